// EWS on /EWS/Exchange.asmx. GetStreamingEvents keeps one chunked response open for up to 30 minutes and writes a
// complete SOAP envelope per notification; a proxy with a short idle timeout or a buffering body cuts it. Other
// SOAP calls are echoed by the caller.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockContext } from './context.js';
import { headerMs, readBody } from './respond.js';

const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_HOLD_MS = 30 * 60_000;
/** SOAP requests are small; keep this much to look for the operation name, count the rest. */
const SOAP_PEEK_BYTES = 256 * 1024;

export function isEwsService(lowerPath: string): boolean {
  return lowerPath === '/ews/exchange.asmx';
}

/** Reads the SOAP request; streams events for GetStreamingEvents, otherwise calls `other` with the body length. */
export async function answerEws(
  ctx: MockContext,
  req: IncomingMessage,
  res: ServerResponse,
  other: (body: { text: string; length: number }) => void,
): Promise<void> {
  const body = await readBody(req, SOAP_PEEK_BYTES);
  if (res.destroyed) return;
  if (req.method !== 'POST' || !body.text.includes('GetStreamingEvents')) {
    other(body);
    return;
  }
  const intervalMs = headerMs(req, 'x-test-interval-ms') ?? DEFAULT_INTERVAL_MS;
  const holdMs = headerMs(req, 'x-test-hold-ms') ?? DEFAULT_HOLD_MS;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/xml; charset=utf-8');
  res.socket?.setNoDelay(true);
  res.flushHeaders();
  ctx.state.longPolls.ews++;
  let sequence = 0;
  const tick = setInterval(() => {
    if (!res.destroyed) res.write(envelope('OK', ++sequence));
  }, intervalMs);
  const end = setTimeout(() => {
    clearInterval(tick);
    if (!res.destroyed) res.end(envelope('Closed', ++sequence));
  }, holdMs);
  res.once('close', () => {
    clearInterval(tick);
    clearTimeout(end);
    ctx.state.longPolls.ews--;
  });
}

function envelope(status: 'OK' | 'Closed', sequence: number): string {
  const notification =
    status === 'OK'
      ? '<m:Notifications><m:Notification><t:SubscriptionId>mock-subscription</t:SubscriptionId>' +
        `<t:StatusEvent><t:Watermark>mock-${sequence}</t:Watermark></t:StatusEvent></m:Notification></m:Notifications>`
      : '';
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">' +
    '<soap:Body><m:GetStreamingEventsResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" ' +
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>' +
    '<m:GetStreamingEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>' +
    `<m:ConnectionStatus>${status}</m:ConnectionStatus>${notification}` +
    '</m:GetStreamingEventsResponseMessage></m:ResponseMessages></m:GetStreamingEventsResponse></soap:Body></soap:Envelope>'
  );
}

