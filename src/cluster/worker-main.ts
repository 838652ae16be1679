// Entry point of a worker process (cluster.setupPrimary's `exec`). Read from disk at each fork, so a rolling
// restart (`casgate restart`, SIGUSR2) runs the code installed now.
import { runWorker } from './worker.js';

runWorker();
