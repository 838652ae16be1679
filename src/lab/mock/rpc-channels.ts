// The per-server registry that pairs Outlook Anywhere IN and OUT channels (rpc.ts serves the connections). Its own
// file so that the server context (context.ts) can hold it without importing the handlers that take that context.
import type { Socket } from 'node:net';
import type { MockState } from './state.js';

export const RPC_CHANNEL_LENGTH = 1_073_741_824;
/** IN bytes kept for an OUT channel that has not arrived yet; beyond this the IN socket is paused. */
const BACKLOG_LIMIT = 4 * 1024 * 1024;

/** First PDU on the OUT channel: an RTS PDU shaped like CONN/A3 (ConnectionTimeout 120 s). */
export const RPC_OUT_FIRST_PDU = Buffer.from([
  0x05, 0x00, 0x14, 0x03, 0x10, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0xc0, 0xd4, 0x01, 0x00,
]);

/** RTS Ping PDU (flags RTS_FLAG_PING, no commands): what an RPC proxy sends on an idle OUT channel. */
export const RPC_PING_PDU = Buffer.from([
  0x05, 0x00, 0x14, 0x03, 0x10, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
]);

interface Pair {
  out: Socket | null;
  /** Bytes left in the OUT response's Content-Length. */
  outLeft: number;
  backlog: Buffer[];
  backlogBytes: number;
  /** IN sockets paused because the backlog is full, resumed when OUT arrives. */
  waiting: Set<Socket>;
}

/** The per-server registry pairing IN and OUT channels. */
export class RpcChannels {
  private readonly pairs = new Map<string, Pair>();
  /** IN sockets paused for back-pressure: one resume listener each, however many writes pushed back. */
  private readonly stalled = new WeakSet<Socket>();

  constructor(private readonly ctx: { state: MockState }) {}

  private pair(key: string): Pair {
    let p = this.pairs.get(key);
    if (!p) {
      p = { out: null, outLeft: 0, backlog: [], backlogBytes: 0, waiting: new Set() };
      this.pairs.set(key, p);
    }
    return p;
  }

  attachOut(key: string, out: Socket): void {
    const p = this.pair(key);
    p.out = out;
    p.outLeft = RPC_CHANNEL_LENGTH - RPC_OUT_FIRST_PDU.length;
    out.once('close', () => {
      if (p.out === out) p.out = null;
      if (!p.out && p.backlogBytes === 0 && p.waiting.size === 0) this.pairs.delete(key);
    });
    for (const b of p.backlog.splice(0)) this.writeOut(p, b, null);
    p.backlogBytes = 0;
    for (const s of p.waiting) s.resume();
    p.waiting.clear();
  }

  /** Write an RTS Ping on the OUT channel of `key` (keep-alive trickle). */
  ping(key: string): void {
    const p = this.pairs.get(key);
    if (p) this.writeOut(p, RPC_PING_PDU, null);
  }

  /** An IN channel closed: bytes waiting for an OUT channel that never came are dropped with their pair. */
  releaseIn(key: string, from: Socket): void {
    const p = this.pairs.get(key);
    if (!p) return;
    p.waiting.delete(from);
    if (!p.out) this.pairs.delete(key);
  }

  /** Forward IN bytes; pauses `from` when the OUT side pushes back or the backlog is full. */
  deliverIn(key: string, chunk: Buffer, from: Socket): void {
    this.ctx.state.counters.rpcBytesIn += chunk.length;
    const p = this.pair(key);
    if (p.out && !p.out.destroyed) {
      this.writeOut(p, chunk, from);
      return;
    }
    p.backlog.push(chunk);
    p.backlogBytes += chunk.length;
    if (p.backlogBytes >= BACKLOG_LIMIT && !p.waiting.has(from)) {
      from.pause();
      p.waiting.add(from);
      from.once('close', () => p.waiting.delete(from));
    }
  }

  private writeOut(p: Pair, chunk: Buffer, from: Socket | null): void {
    const out = p.out;
    if (!out || out.destroyed || p.outLeft <= 0) return;
    // The OUT response promised exactly 1 GiB; a real proxy recycles the channel before then.
    const part = chunk.length > p.outLeft ? chunk.subarray(0, p.outLeft) : chunk;
    p.outLeft -= part.length;
    this.ctx.state.counters.rpcBytesOut += part.length;
    if (!out.write(part) && from && !this.stalled.has(from)) {
      this.stalled.add(from);
      from.pause();
      const resume = (): void => {
        out.off('drain', resume);
        out.off('close', resume);
        this.stalled.delete(from);
        from.resume();
      };
      out.on('drain', resume);
      out.on('close', resume);
    }
    if (p.outLeft === 0) out.end();
  }
}
