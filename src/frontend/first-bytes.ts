// Junk that llhttp does not refuse but waits on, judged on the first chunk of a connection (the listener sees it
// before any parser does): an HTTP/0.9 request line (`GET /`, no version: llhttp waits for more), a run of empty
// lines (RFC 9112 §2.2 asks to ignore at least one; llhttp ignores any number, 20 KB of CRLF held a connection until
// the head deadline), and lines ended by a bare LF (refused by llhttp, but the RPC head parser waited for CRLF CRLF).
// Later requests on a keep-alive connection go straight to Node's parser: there, the head deadline ends such junk.

export interface FirstChunkProblem {
  status: '400 Bad Request';
  reason: string;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;

export function firstChunkProblem(chunk: Buffer): FirstChunkProblem | undefined {
  let start = 0;
  // One empty line before the request line is tolerated (some clients end a body with an extra CRLF).
  if (chunk[0] === CR && chunk[1] === LF) start = 2;
  if (chunk[start] === CR || chunk[start] === LF) return { status: '400 Bad Request', reason: 'empty lines before the request line' };
  const lf = chunk.indexOf(LF, start);
  if (lf < 0) return undefined; // the request line is not complete yet: the parser and the head deadline decide
  if (chunk[lf - 1] !== CR) return { status: '400 Bad Request', reason: 'request line ended by a bare LF' };
  // `METHOD SP target` and no second space: no HTTP version.
  const first = chunk.indexOf(SP, start);
  if (first > start && first < lf) {
    const second = chunk.indexOf(SP, first + 1);
    if (second < 0 || second > lf) return { status: '400 Bad Request', reason: 'HTTP/0.9 requests are not supported' };
  }
  return undefined;
}
