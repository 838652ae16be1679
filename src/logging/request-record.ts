// What is known about one finished request: the engine fills it, the access log writes it, the metrics count it.
// It lives here, below proxy/, so that logging and admin read it without depending on the engine that makes it.
import type { FailureCode } from '../failure.js';

/** One finished request (or a client error answered before routing). */
export interface RequestRecord {
  startedAt: number;
  durationMs: number;
  clientIp: string;
  method: string;
  url: string;
  host: string;
  httpVersion: string;
  status: number;
  bytesSent: number;
  route?: string;
  pool?: string;
  backend?: string;
  attempts: number;
  pinned: boolean;
  error?: FailureCode;
  errorDetail?: string;
  userAgent?: string;
}
