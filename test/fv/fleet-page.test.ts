// The live fleet page in a real headless Chromium (Debian's, driven by playwright-core): it
// loads under its own Content-Security-Policy, shows agents as they connect and leave (and a
// divergent one as such), shows a hostile hostname as text, and leaves a screenshot at
// test-artifacts/fleet.png for CI.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from '../harness/chromium.js';
import { divergentAgent, type FleetReplica, startFleetReplica } from '../harness/fleet.js';
import type { RawClient } from '../harness/raw-client.js';
import { waitFor } from '../harness/stack.js';

const ARTIFACT = resolve(import.meta.dirname, '../../test-artifacts/fleet.png');
const HOSTILE = '<img src=x onerror="document.title=\'owned\'">';

let replica: FleetReplica;
let context: BrowserContext;
let profile: string;
const clients: SyncClient[] = [];
let evil: RawClient | undefined;

beforeAll(async () => {
  // No silent skip: the browser is a test dependency (scripts/system-deps.sh installs it).
  requireChromium();
  replica = await startFleetReplica('tabby-page-test');
  profile = mkdtempSync(join(tmpdir(), 'tabby-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 720 },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  evil?.destroy();
  await replica?.stop();
});

function agent(hostname: string, syncer: 'felix' | 'bgp' = 'felix'): SyncClient {
  const c = new SyncClient({
    addresses: [replica.stack.address],
    syncer,
    hostname,
    compressions: [],
    ackIntervalMs: 10,
  });
  clients.push(c);
  c.start();
  return c;
}

describe('live fleet page (headless Chromium)', () => {
  it('loads, shows agents connect and leave, renders hostnames as text; screenshot kept', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    agent('node-a');
    agent('node-b', 'bgp');
    evil = await divergentAgent(replica.stack.address, 'node-evil');
    await waitFor(() => replica.stack.server.connectionCount === 3, 10_000, 'three agents');

    await page.goto(`http://${replica.healthAddress}/`);
    await page.locator('#conn', { hasText: 'live' }).waitFor({ timeout: 15_000 });
    await page.locator('tr[data-hostname="node-a"][data-state="current"]').waitFor({ timeout: 15_000 });
    await page.locator('tr[data-hostname="node-b"]').waitFor({ timeout: 15_000 });
    await page.locator('tr[data-hostname="node-evil"][data-state="divergent"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#server').textContent()).toBe('tabby-page-test');
    expect(await page.locator('#datastore').textContent()).toBe('datastore in sync');

    const late = agent('node-c');
    const hostile = agent(HOSTILE);
    await page.locator('tr[data-hostname="node-c"]').waitFor({ timeout: 15_000 });
    const hostileCell = page.locator('tbody#agents td', { hasText: 'onerror' });
    await hostileCell.waitFor({ timeout: 15_000 });
    expect(await hostileCell.textContent()).toBe(HOSTILE);
    expect(await page.locator('tbody#agents img').count()).toBe(0);
    expect(await page.title()).toBe('Tabby fleet');
    await hostile.stop();

    mkdirSync(resolve(ARTIFACT, '..'), { recursive: true });
    await page.screenshot({ path: ARTIFACT, fullPage: true });
    expect(statSync(ARTIFACT).size).toBeGreaterThan(1_000);

    await late.stop();
    await page.locator('tr[data-hostname="node-c"]').waitFor({ state: 'detached', timeout: 15_000 });
    expect(await page.locator('tbody#agents tr').count()).toBe(3);
    expect(problems).toEqual([]); // the CSP let the script and the WebSocket through
  }, 90_000);
});
