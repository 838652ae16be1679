// The setup most integration tests share: N mock CAS servers (cas1..casN, each on its own ephemeral ports) behind
// the real proxy, in-process (startTestGateway, with the test's config overrides) or as a child process
// (startCasgateProcess); one stop() tears down both, the gateway first so that no proxied request meets a closed
// CAS on the way out.
import { startMockCas, type MockCas, type MockCasOptions } from '../../src/lab/mock-cas.js';
import { startCasgateProcess, type CasgateProcess, type CasgateProcessOptions } from './casgate-process.js';
import { startTestGateway, type TestGateway, type TestServer } from './gateway-harness.js';

export interface CasAnd<G> {
  cas: MockCas[];
  gw: G;
  stop(): Promise<void>;
}
export type CasAndGateway = CasAnd<TestGateway>;
export type CasAndProcess = CasAnd<CasgateProcess>;

/** Extra options for the i-th mock CAS (0-based; its name is cas<i+1>). */
export type CasOptions = (index: number) => Partial<MockCasOptions>;

/** Starts `n` mock CAS servers, then the gateway `start` makes over them. If anything fails, what did start is closed. */
async function startCasAnd<G extends { stop(): Promise<void> }>(n: number, casOptions: CasOptions, start: (cas: MockCas[]) => Promise<G>): Promise<CasAnd<G>> {
  const cas: MockCas[] = [];
  let gw: G | undefined;
  const stop = async () => {
    await gw?.stop();
    await Promise.all(cas.map((c) => c.close()));
  };
  try {
    for (let i = 0; i < n; i++) cas.push(await startMockCas({ name: `cas${i + 1}`, ...casOptions(i) }));
    gw = await start(cas);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { cas, gw, stop };
}

/** Config overrides, or a function making them from the started CAS servers (for their ports). */
export type Overrides = Record<string, unknown> | ((cas: MockCas[]) => Record<string, unknown>);

/** What the gateway's `cas` pool is told of the started CAS servers; by default each as it is, its certificate pinned. */
export type GatewayServers = (cas: MockCas[]) => TestServer[];

/** `n` mock CAS servers and the in-process gateway over them, `overrides` merged into the base config. */
export function startCasAndGateway(
  n: number,
  overrides: Overrides = {},
  casOptions: CasOptions = () => ({}),
  servers: GatewayServers = (cas) => cas,
): Promise<CasAndGateway> {
  return startCasAnd(n, casOptions, (cas) => startTestGateway(servers(cas), typeof overrides === 'function' ? overrides(cas) : overrides));
}

/** `n` mock CAS servers and casgate as a child process (dist/cli.js) over them. */
export function startCasAndProcess(n: number, opts: CasgateProcessOptions = {}, casOptions: CasOptions = () => ({})): Promise<CasAndProcess> {
  return startCasAnd(n, casOptions, (cas) => startCasgateProcess(cas, opts));
}
