// Scripts a mock CAS over its control endpoint (/__mock/...), as the failover tests and the lab do.
import { request } from 'undici';

export async function mockControl(port: number, action: string, body: unknown = {}): Promise<unknown> {
  const res = await request(`http://127.0.0.1:${port}/__mock/${action}`, {
    method: action === 'stats' ? 'GET' : 'POST',
    body: action === 'stats' ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const json = await res.body.json();
  if (res.statusCode !== 200) throw new Error(`mock control ${action} failed: ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}
