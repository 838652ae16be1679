// The Node/V8 flags the primary starts each worker with (`workerFlags`). V8 sizes its heap when a process starts, so
// these can only be given to a process casgate forks itself: its workers.
//
// Default: a young generation of 16 MB from the start (V8 starts at 1 MB and grows it only as objects survive).
// Proxied bodies arrive as 64 KiB Buffers, each an external allocation; with a small young generation they outlive
// the scavenges that run while they are in flight, reach the old generation, and their external bytes trigger a full
// mark-compact every few dozen MB: 1 to 6 per 100 MiB downloads in `node --trace-gc` here, none with these flags, and
// about a fifth less CPU per MiB (bench/RESULTS.md, "What each engine change bought"). The cost is fixed: about 32 MB
// of RSS per worker (two semi-spaces), nothing per connection.
export const DEFAULT_WORKER_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

/** `--name` or `--name=value`, as node and V8 take them on the command line; anything else is not a flag. */
export const WORKER_FLAG_SYNTAX = /^--[a-z][a-z0-9_-]*(=[^\s]+)?$/;
