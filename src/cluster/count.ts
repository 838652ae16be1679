// How many workers `workers: auto | N` means here (kept apart from primary.ts so that the single-process path does
// not load node:cluster).
import { availableParallelism } from 'node:os';
import type { Config } from '../config/schema.js';

export function workerCount(setting: Config['workers']): number {
  return setting === 'auto' ? availableParallelism() : setting;
}
