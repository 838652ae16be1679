// The first chunk of a connection: junk llhttp would wait on is refused at once; every real request line passes.
import { describe, expect, it } from 'vitest';
import { firstChunkProblem } from '../../src/frontend/first-bytes.js';

const check = (text: string) => firstChunkProblem(Buffer.from(text, 'latin1'))?.reason;

describe('firstChunkProblem', () => {
  it.each([
    ['GET /\r\n', /HTTP\/0\.9/],
    ['GET /owa/\r\n\r\n', /HTTP\/0\.9/],
    ['\r\n\r\nGET / HTTP/1.1\r\n', /empty lines/],
    ['\r\n'.repeat(10_000), /empty lines/],
    ['\n', /empty lines/],
    ['GET / HTTP/1.1\nHost: x\n\n', /bare LF/],
    ['RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\nHost: x\n\n', /bare LF/],
  ])('refuses %j', (text, reason) => {
    expect(check(text)).toMatch(reason);
  });

  it.each([
    'GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\n\r\n',
    '\r\nPOST /EWS/Exchange.asmx HTTP/1.1\r\nHost: x\r\n\r\n',
    'RPC_IN_DATA /rpc/rpcproxy.dll?cas1:6001 HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /owa/?a=b%20c HTTP/1.0\r\n\r\n',
    // Not complete yet: the parser and the head deadline decide.
    'GET /owa/',
    'RPC_',
    '',
  ])('lets %j through', (text) => {
    expect(check(text)).toBeUndefined();
  });
});
