import { Writable } from 'node:stream';
import { afterEach, expect, test, vi } from 'vitest';
import type { RequestRecord } from '../../src/logging/request-record.js';
import { AccessLog, escapeLogValue, formatAccessJson, formatAccessText, formatAccessW3c, isoNow } from '../../src/logging/access-log.js';

const record: RequestRecord = {
  startedAt: performance.now() - 12,
  durationMs: 12.34,
  clientIp: '192.0.2.7',
  serverIp: '10.0.0.5',
  serverPort: 443,
  method: 'POST',
  url: '/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=ABC',
  host: 'mail.contoso.com',
  httpVersion: '1.1',
  status: 200,
  bytesSent: 321,
  bytesReceived: 654,
  attempts: 1,
  pinned: false,
  requestId: '0badf00d-1z',
  user: 'CONTOSO\\alice',
  userAgent: 'Apple-iPhone/1705.67',
};

test('escaping as nginx: quotes, backslashes, controls and UTF-8 as \\xHH; spaces only outside quotes', () => {
  expect(escapeLogValue('a"b\\c\n')).toBe('a\\x22b\\x5Cc\\x0A');
  expect(escapeLogValue('a b')).toBe('a b');
  expect(escapeLogValue('a b', true)).toBe('a\\x20b');
  expect(escapeLogValue('é')).toBe('\\xC3\\xA9');
  expect(escapeLogValue('plain/value?x=1')).toBe('plain/value?x=1');
});

test('w3c: cs-username is the authenticated user, the query split from the stem, times in ms', () => {
  const line = formatAccessW3c(record, new Date('2026-12-01T03:04:05.678Z')).trimEnd().split(' ');
  expect(line.slice(0, 14)).toEqual([
    '2026-12-01', '03:04:05', '10.0.0.5', 'POST', '/Microsoft-Server-ActiveSync', 'Cmd=Ping&User=alice&DeviceId=ABC', '443',
    'CONTOSO\\alice', '192.0.2.7', 'Apple-iPhone/1705.67', '-', 'mail.contoso.com', '200', '12',
  ]);
  expect(line.slice(-2)).toEqual(['0badf00d-1z', '-']);
  expect(formatAccessW3c({ ...record, user: undefined }).split(' ')[7]).toBe('-');
  expect(formatAccessW3c({ ...record, userAgent: 'a b\nc' }).split(' ')[9]).toBe('a+b\\x0Ac');
});

test('text carries the user and the request id; json has startedAt as wall-clock ISO time', () => {
  expect(formatAccessText(record)).toMatch(/ user="CONTOSO\\x5Calice" .*id=0badf00d-1z\n$/);
  const json = JSON.parse(formatAccessJson(record)) as { startedAt: string; user: string };
  expect(json.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(Math.abs(Date.parse(json.startedAt) - (Date.now() - 12))).toBeLessThan(1000);
  expect(json.user).toBe('CONTOSO\\alice');
});

test('a client named by a trusted proxy is c-ip, with the proxy as the peer in every format', () => {
  const forwarded = { ...record, clientIp: '203.0.113.9', peerIp: '10.0.0.2' };
  const w3c = formatAccessW3c(forwarded).trimEnd().split(' ');
  expect(w3c[8]).toBe('203.0.113.9');
  expect(w3c.at(-1)).toBe('10.0.0.2');
  expect(formatAccessText(forwarded)).toMatch(/^\S+ 203\.0\.113\.9 .* peer=10\.0\.0\.2 /);
  expect(formatAccessText(record)).not.toContain('peer=');
  expect(JSON.parse(formatAccessJson(forwarded))).toMatchObject({ clientIp: '203.0.113.9', peerIp: '10.0.0.2' });
});

test('the time of a line is what toISOString() writes, across milliseconds, seconds and days', () => {
  const start = Date.parse('2026-12-31T23:59:58.990Z');
  // In order (the cached second carries over), then backwards and far apart (it must be replaced).
  const times = [...Array.from({ length: 2_100 }, (_, i) => start + i), start, 0, 999, 1000, Date.parse('2024-02-29T12:00:00.007Z'), start - 1];
  for (const ms of times) expect(isoNow(ms)).toBe(new Date(ms).toISOString());
});

test('the log writes every line whole and in order: across flushes, a line longer than its buffer, UTF-8 in JSON', async () => {
  const chunks: Buffer[] = [];
  const out = new Writable({ write: (chunk: Buffer, _enc, done) => void (chunks.push(Buffer.from(chunk)), done()) });
  const log = new AccessLog(() => out, 'json', false);
  const records: RequestRecord[] = [];
  for (let i = 0; i < 3_000; i++) {
    // Every 500th a URL longer than the pending buffer; every 7th a user name in UTF-8.
    const url = i % 500 === 499 ? `/owa/${'x'.repeat(40_000)}` : `/owa/${i}`;
    records.push({ ...record, requestId: `r-${i}`, url, user: i % 7 === 0 ? `CONTOSO\\jürgen-${i}` : `u${i}` });
  }
  for (const r of records) log.write(r);
  await log.close();
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  expect(lines.pop()).toBe('');
  expect(lines.length).toBe(records.length);
  lines.forEach((line, i) => {
    const parsed = JSON.parse(line) as { requestId: string; url: string; user: string };
    expect([parsed.requestId, parsed.url, parsed.user]).toEqual([records[i]!.requestId, records[i]!.url, records[i]!.user]);
  });
  expect(chunks.length).toBeGreaterThan(3); // batched: not one write per line, not one for all
  expect(chunks.length).toBeLessThan(100);
});

afterEach(() => vi.restoreAllMocks());

test('a file that cannot be written (disk full) drops and counts lines, is tried again every 5 s, and says when it writes again', async () => {
  let full = true;
  let opened = 0;
  const written: string[] = [];
  const open = () => {
    opened++;
    return new Writable({
      write(chunk: Buffer, _enc, done) {
        if (full) return done(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        written.push(chunk.toString());
        done();
      },
    });
  };
  let now = 1_800_000_000_000;
  vi.spyOn(Date, 'now').mockImplementation(() => now);
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const errors: string[] = [];
  const recovered: number[] = [];
  const log = new AccessLog(open, 'text', true, { onError: (err) => errors.push(err.message), onRecovered: (lost) => recovered.push(lost) });
  const line = (id: string) => {
    log.write({ ...record, requestId: id });
    log.flush();
  };

  line('lost-1');
  await settle();
  expect(errors).toEqual(['ENOSPC: no space left on device, write']);
  line('lost-2'); // within 5 s of the failure: dropped without trying
  await settle();
  expect(opened).toBe(1);
  now += 6_000;
  line('lost-3'); // tried again on a new stream, still full: no second report
  await settle();
  expect([opened, errors.length, recovered.length]).toEqual([2, 1, 0]);
  full = false;
  now += 6_000;
  line('kept-4');
  await settle();
  expect(recovered).toEqual([3]);
  expect(log.droppedLines).toBe(3);
  line('kept-5');
  await settle();
  const text = written.join('');
  expect(text).toMatch(/id=kept-4\n.*id=kept-5\n$/s);
  expect(text).not.toContain('lost-');
  expect(opened).toBe(3);
});
