// The setup most integration tests share: N mock CAS servers (cas1..casN, each on its own ephemeral ports) behind
// the real proxy, started by startTestGateway with the test's config overrides; one stop() tears down both, the
// gateway first so that no proxied request meets a closed CAS on the way out.
import { startMockCas, type MockCas, type MockCasOptions } from '../../src/lab/mock-cas.js';
import { startTestGateway, type TestGateway } from './gateway-harness.js';

export interface CasAndGateway {
  cas: MockCas[];
  gw: TestGateway;
  stop(): Promise<void>;
}

/**
 * Starts `n` mock CAS servers named cas1..casN (`casOptions` adds options to each, by index) and a gateway over
 * them with `overrides` merged into the base config. If anything fails to start, what did start is closed.
 */
export async function startCasAndGateway(
  n: number,
  overrides: Record<string, unknown> = {},
  casOptions: (index: number) => Partial<MockCasOptions> = () => ({}),
): Promise<CasAndGateway> {
  const cas: MockCas[] = [];
  let gw: TestGateway | undefined;
  const stop = async () => {
    await gw?.stop();
    await Promise.all(cas.map((c) => c.close()));
  };
  try {
    for (let i = 0; i < n; i++) cas.push(await startMockCas({ name: `cas${i + 1}`, ...casOptions(i) }));
    gw = await startTestGateway(cas, overrides);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { cas, gw, stop };
}
