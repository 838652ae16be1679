// The status page in a real browser (Debian's chromium, headless, driven by playwright-core, which downloads no
// browser): what an admin on call reads (version, uptime, per-pool last minute, since when, certificate days left)
// and the drain/enable buttons, which ask for the admin token once and act through the admin API.
// CASGATE_UPDATE_SCREENSHOT=1 writes the screenshot to docs/status-page.png (the README's picture).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { VERSION } from '../../src/version.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import type { TestGateway } from '../helpers/gateway-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'test-admin-token-0123456789';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`status page browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

describe.skipIf(!hasChromium)('status page in chromium', () => {
  let cas1: MockCas;
  let cas2: MockCas;
  let gw: TestGateway;
  let env: CasAndGateway | undefined;
  let browser: import('playwright-core').Browser;

  beforeAll(async () => {
    env = await startCasAndGateway(2, { pools: { cas: { health: { enabled: false } } } });
    cas1 = env.cas[0]!;
    cas2 = env.cas[1]!;
    gw = env.gw;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });

  // Polls allow 5 s: a click's round trip through the admin API, with the rest of the suite on both cores, can take
  // longer than vitest's default second.
  test('shows version, uptime, the last minute per pool, since when and certificate days left; drain and enable with the token', async () => {
    for (let i = 0; i < 6; i++) await gw.get('/owa/');
    gw.gateway.pools.get('cas/ews')!.find('cas1')!.drain(0, 'draining (admin)');
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // The page reloads itself every 2 s; a script run at that moment loses its context and is run again on the new page.
    const inPage = async <T>(fn: () => T): Promise<T> => {
      for (let tries = 0; ; tries++) {
        try {
          return await page.evaluate(fn);
        } catch (err) {
          if (tries >= 5 || !/context was destroyed|navigat/i.test(String(err))) throw err;
          await page.waitForLoadState('load');
        }
      }
    };
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(gw.adminUrl)) external.push(r.url());
    });
    await page.goto(`${gw.adminUrl}/`);
    await expect.poll(() => page.locator('h1').textContent(), { timeout: 5_000 }).toContain(VERSION);
    expect(await page.locator('#uptime').textContent()).toMatch(/^\d+(s|m \d+s|h \d+m)$/);
    const owaHeading = page.locator('h2', { hasText: /^cas\/owa / });
    expect(await owaHeading.textContent()).toMatch(/last minute: 6 requests, 0 5xx/);
    const row = (pool: string, server: string) => page.locator(`table[data-pool="${pool}"] tr[data-server="${server}"]`);
    expect(await row('cas/ews', 'cas1').locator('td.state').textContent()).toBe('draining');
    expect(await row('cas/ews', 'cas1').locator('td').nth(3).textContent()).toMatch(/^\d+s$/);
    expect(await page.locator('li', { hasText: 'mail.crt' }).textContent()).toMatch(/\d+ days left/);

    // Drain cas1 in OWA: the page asks for the token once.
    const prompts: string[] = [];
    page.on('dialog', (d) => {
      prompts.push(`${d.type()}: ${d.message()}`);
      void (d.type() === 'prompt' ? d.accept(TOKEN) : d.accept());
    });
    await row('cas/owa', 'cas1').locator('button[data-action="drain"]').click();
    await expect.poll(() => gw.gateway.pools.get('cas/owa')!.find('cas1')!.state, { timeout: 5_000 }).toBe('draining');
    await expect.poll(() => row('cas/owa', 'cas1').locator('td.state').textContent(), { timeout: 5_000 }).toBe('draining');
    expect(prompts).toEqual([expect.stringMatching(/^prompt: Admin token .* to drain cas1 in cas\/owa$/)]);
    if (process.env.CASGATE_UPDATE_SCREENSHOT === '1') {
      await page.screenshot({ path: fileURLToPath(new URL('../../docs/status-page.png', import.meta.url)), fullPage: true });
    } else {
      await page.screenshot({ path: join(mkdtempSync(join(tmpdir(), 'casgate-shot-')), 'status-page.png'), fullPage: true });
    }

    // Enable: the token is remembered for this tab, no second prompt.
    await row('cas/owa', 'cas1').locator('button[data-action="enable"]').click();
    await expect.poll(() => gw.gateway.pools.get('cas/owa')!.find('cas1')!.state, { timeout: 5_000 }).toBe('healthy');
    expect(prompts).toHaveLength(1);

    // A wrong token is refused, forgotten, and said so.
    await inPage(() => sessionStorage.setItem('casgate-admin-token', 'wrong-token-0000000000'));
    await row('cas/owa', 'cas2').locator('button[data-action="disable"]').click();
    await expect.poll(() => prompts.at(-1), { timeout: 5_000 }).toBe('alert: The admin token was refused.');
    expect(gw.gateway.pools.get('cas/owa')!.find('cas2')!.state).toBe('healthy');
    expect(await inPage(() => sessionStorage.getItem('casgate-admin-token'))).toBeNull();
    expect(external).toEqual([]);
    await page.close();
  }, 60_000);

  test('refreshes in place; while casgate does not answer, the last state stays under a banner saying since when; then it recovers', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    await page.goto(`${gw.adminUrl}/`);
    const loaded = navigations;
    const state = () => page.locator('table[data-pool="cas/ews"] tr[data-server="cas2"] td.state').textContent();
    const cas2 = gw.gateway.pools.get('cas/ews')!.find('cas2')!;
    cas2.drain(0, 'draining (admin)');
    await expect.poll(state, { timeout: 5_000 }).toBe('draining');
    expect(navigations).toBe(loaded);

    // casgate restarting, or down: the admin listener refuses connections.
    await page.route(`${gw.adminUrl}/`, (route) => route.abort('connectionrefused'));
    await expect.poll(() => page.locator('#stale').count(), { timeout: 5_000 }).toBe(1);
    expect(await page.locator('#stale').textContent()).toMatch(/^casgate has not answered since .+: what follows is what it said last\.$/);
    expect(await state()).toBe('draining');

    await page.unroute(`${gw.adminUrl}/`);
    cas2.enable();
    await expect.poll(state, { timeout: 5_000 }).toBe('healthy');
    expect(await page.locator('#stale').count()).toBe(0);
    expect(navigations).toBe(loaded);
    await page.close();
  }, 60_000);
});
