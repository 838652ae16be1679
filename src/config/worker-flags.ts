// The Node/V8 flags the primary starts each worker with (`workerFlags`). V8 sizes its heap when a process starts, so
// these can only be given to a process casgate forks itself: its workers.
//
// Default, measured (bench/RESULTS.md, "What each engine change bought"):
// - `--initial-old-space-size=128`: proxied bodies arrive as 64 KiB Buffers, external memory V8 counts against its
//   heap limits. With the limits V8 derives from casgate's ~19 MB heap, the Buffers in flight of large downloads
//   kept starting full mark-compacts (1 to 6 per 100 MiB in `node --trace-gc`) and casgate ran in one of two modes
//   run to run, ~400 or ~650 MiB/s per core for 1 MiB GETs. A 128 MB starting old generation leaves room for them:
//   no mark-compacts, ~650 every time. It is a limit, not an allocation: the heap grows into it only with garbage.
// - `--min-semi-space-size=16 --max-semi-space-size=16`: the young generation at its full 16 MB from the start
//   rather than grown from 1 MB under load: about 32 MB of RSS per worker paid up front, and the 2,000-connection
//   memory figure of bench peers drops from ~47 to ~38 KB per idle TLS connection (the growth no longer lands on
//   the connections that caused it).
export const DEFAULT_WORKER_FLAGS: readonly string[] = ['--initial-old-space-size=128', '--min-semi-space-size=16', '--max-semi-space-size=16'];

/** `--name` or `--name=value`, as node and V8 take them on the command line; anything else is not a flag. */
export const WORKER_FLAG_SYNTAX = /^--[a-z][a-z0-9_-]*(=[^\s]+)?$/;
