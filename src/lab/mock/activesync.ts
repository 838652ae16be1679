// Exchange ActiveSync on /Microsoft-Server-ActiveSync. Ping is the long poll that breaks proxies: the server sends
// NOTHING, not even headers, until the heartbeat interval (up to 3540 s) ends or mail arrives. OPTIONS advertises
// protocol versions and commands; every other command is echoed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockContext } from './context.js';
import type { ParsedTarget } from './paths.js';
import { readBody, send } from './respond.js';

/** Default heartbeat: 480 s, what Outlook for iOS / Android and most devices start with. */
const DEFAULT_HEARTBEAT_MS = 480_000;

/** WBXML for <Ping><Status>1</Status></Ping>: the heartbeat expired with no changes. */
export const PING_EXPIRED_WBXML = Buffer.from([0x03, 0x01, 0x6a, 0x00, 0x00, 0x0d, 0x45, 0x47, 0x03, 0x31, 0x00, 0x01, 0x01]);

/** Answers OPTIONS and Cmd=Ping; returns false for everything else (echoed by the caller). */
export function answerActiveSync(ctx: MockContext, t: ParsedTarget, req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'OPTIONS') {
    res.setHeader('MS-Server-ActiveSync', '15.20');
    res.setHeader('MS-ASProtocolVersions', '2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1');
    res.setHeader(
      'MS-ASProtocolCommands',
      'Sync,SendMail,SmartForward,SmartReply,GetAttachment,GetHierarchy,CreateCollection,DeleteCollection,' +
        'MoveCollection,FolderSync,FolderCreate,FolderDelete,FolderUpdate,MoveItems,GetItemEstimate,MeetingResponse,' +
        'Search,Settings,Ping,ItemOperations,Provision,ResolveRecipients,ValidateCert,Find',
    );
    res.setHeader('Allow', 'OPTIONS,POST');
    send(res, 200, '');
    return true;
  }
  if (req.method === 'POST' && (t.query.get('Cmd') ?? t.query.get('cmd'))?.toLowerCase() === 'ping') {
    void holdPing(ctx, req, res);
    return true;
  }
  return false;
}

async function holdPing(ctx: MockContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await readBody(req, 0);
  if (res.destroyed) return;
  const v = Number(req.headers['x-test-heartbeat-ms']);
  const heartbeatMs = Number.isFinite(v) && v >= 0 ? v : DEFAULT_HEARTBEAT_MS;
  ctx.state.longPolls.activesync++;
  const answer = (): void => {
    clearTimeout(timer);
    res.setHeader('MS-Server-ActiveSync', '15.20');
    send(res, 200, PING_EXPIRED_WBXML, 'application/vnd.ms-sync.wbxml');
  };
  const timer = setTimeout(answer, heartbeatMs);
  ctx.state.heldPings.add(answer);
  res.once('close', () => {
    clearTimeout(timer);
    ctx.state.heldPings.delete(answer);
    ctx.state.longPolls.activesync--;
  });
}
