// GET /<vdir>/healthcheck.htm as Managed Availability answers it: 200 "200 OK<br/>FQDN" when the vdir is healthy,
// HTTP.sys's 503 page when the server is in maintenance (ServerWideOffline inactive), or whatever the control
// endpoint scripted for one vdir.
import type { ServerResponse } from 'node:http';
import type { MockContext } from './context.js';
import { HEALTH_VDIRS, type ParsedTarget } from './paths.js';
import { send, timerFor } from './respond.js';

/** HTTP.sys's own page for a stopped application pool / offline component. */
export const SERVICE_UNAVAILABLE_BODY =
  '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n' +
  '<HTML><HEAD><TITLE>Service Unavailable</TITLE>\r\n' +
  '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n' +
  '<BODY><h2>Service Unavailable</h2>\r\n<hr><p>HTTP Error 503. The service is unavailable.</p>\r\n</BODY></HTML>\r\n';

export function isHealthCheck(t: ParsedTarget): boolean {
  return t.lower.endsWith('/healthcheck.htm') && t.lower.split('/').length === 3;
}

export function answerHealthCheck(ctx: MockContext, t: ParsedTarget, res: ServerResponse): void {
  if (!HEALTH_VDIRS.includes(t.vdir)) {
    // PowerShell (and anything else) has no healthcheck.htm: IIS's 404.
    send(res, 404, 'The resource cannot be found.\r\n', 'text/html');
    return;
  }
  const override = ctx.state.health.get(t.vdir) ?? ctx.state.health.get('*');
  const answer = (): void => {
    if (ctx.state.maintenance) {
      send(res, 503, SERVICE_UNAVAILABLE_BODY, 'text/html; charset=us-ascii');
    } else if (override && override.status !== 200) {
      send(res, override.status, override.body ?? (override.status === 503 ? SERVICE_UNAVAILABLE_BODY : `${override.status}\r\n`), 'text/html');
    } else {
      send(res, 200, override?.body ?? `200 OK<br/>${ctx.fqdn}`, 'text/html');
    }
  };
  if (override?.delayMs) timerFor(res, override.delayMs, answer);
  else answer();
}
