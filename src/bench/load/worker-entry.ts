// Entry point of a load worker thread: runs the plan it is given and posts progress, then its result.
import { parentPort, workerData } from 'node:worker_threads';
import { runWorker, type WorkerPlan } from './worker.js';

const port = parentPort;
if (!port) throw new Error('worker-entry.js must run in a worker thread');
runWorker(workerData as WorkerPlan, (p) => port.postMessage({ type: 'progress', progress: p })).then(
  (result) => port.postMessage({ type: 'result', result }),
  (err: unknown) => port.postMessage({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }),
);
