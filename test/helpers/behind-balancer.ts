// The setup of the tests of casgate behind a load balancer: the balancer's address 127.0.0.2 in
// listen.trustForwardedFrom, and a route for the internal network only (10.0.0.0/8) to a pool of the first mock CAS.
import type { MockCas } from '../../src/lab/mock-cas.js';

export function behindBalancer([cas1]: MockCas[]): Record<string, unknown> {
  return {
    listen: { trustForwardedFrom: ['127.0.0.2'] },
    pools: {
      cas: { health: { enabled: false } },
      internal: { health: { enabled: false }, servers: [{ name: 'int1', host: '127.0.0.1', port: cas1!.httpPort }] },
    },
    routes: [{ name: 'intranet-only', path: '/intranet', pool: 'internal', allow: ['10.0.0.0/8'] }],
  };
}
