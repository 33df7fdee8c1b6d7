// The load test's smoke scenario end to end through the real command (`tabby loadtest
// --scenario smoke`): every mode runs and produces figures, and the HTML report renders in
// headless Chromium with all of its plots drawn and without any network request. Needs the
// Debian chromium package (scripts/system-deps.sh installs it); no figure is asserted.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoadtestResult } from '../../loadtest/results.js';
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from '../harness/chromium.js';
import { run } from '../harness/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tabby-loadtest-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tabby loadtest --scenario smoke', () => {
  let result: LoadtestResult;

  it('runs every mode and writes the JSON result', { timeout: 400_000 }, async () => {
    const out = await run(
      ['loadtest', '--scenario', 'smoke', '--out-dir', dir, '--progress', 'false'],
      380_000,
    );
    expect(out.stderr).not.toMatch(/failed:/);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/wrote .*smoke\.json and .*smoke\.html/);
    result = JSON.parse(readFileSync(join(dir, 'smoke.json'), 'utf8')) as LoadtestResult;
    const labels = result.modes.map((m) => m.label);
    expect(labels).toEqual(['tabby', 'ceiling', 'direct', 'rollout, resume on', 'rollout, resume off']);
    for (const m of result.modes) {
      expect(m.error, m.label).toBeUndefined();
      expect(m.sync?.failed, m.label).toBe(0);
      expect(m.timeline.length, m.label).toBeGreaterThan(0);
    }
    for (const label of ['tabby', 'ceiling', 'direct']) {
      const w = result.modes.find((m) => m.label === label)!.window!;
      // Every stamped write reached every agent (merged writes of one pod count once).
      expect(w.latencyMs.count, label).toBeGreaterThan(0);
      expect(w.latencyMs.count, label).toBeLessThanOrEqual(w.expectedSamples);
      expect(w.latencyMs.count / w.expectedSamples, label).toBeGreaterThan(0.9);
    }
    const tabby = result.modes.find((m) => m.label === 'tabby')!;
    // The split at the replica's first socket: the recorder saw the writes the agents saw, its
    // part is not longer than the whole, and the agents on its replica were split against it.
    const tw = tabby.window!;
    const split = tw.split!;
    expect(split.upstreamMs.count).toBeGreaterThan(0);
    expect(split.upstreamMs.count).toBeLessThanOrEqual(tw.expectedSamples / tabby.agents);
    expect(split.matched).toBeGreaterThan(0);
    expect(split.unmatched).toBeLessThanOrEqual(split.matched / 10);
    expect(split.fanoutMs.count).toBe(split.matched);
    expect(split.upstreamMs.p50).toBeLessThanOrEqual(tw.latencyMs.p50);
    expect(split.upstreamMs.p99).toBeLessThanOrEqual(tw.latencyMs.max);
    // Per sample, agent ≥ upstream save for reads the coordinator made late: a small share.
    expect(split.beforeRecorder).toBeLessThanOrEqual(split.matched / 4);
    // The tail is the agents' p99 over both replicas: it may hold none of the recorder's agents.
    if (split.tailSamples > 0) {
      expect(split.tailUpstreamShare).toBeGreaterThanOrEqual(0);
      expect(split.tailUpstreamShare).toBeLessThanOrEqual(1);
    }
    expect(tw.eventLoop?.api?.maxMs).toBeGreaterThan(0);
    expect(tw.eventLoop?.replicas).toHaveLength(result.scenario.replicas);
    for (const d of tw.eventLoop!.replicas!) expect(d?.maxMs).toBeGreaterThan(0);
    expect(result.modes.find((m) => m.label === 'ceiling')!.window!.split).toBeUndefined();
    expect(result.targets.find((t) => t.name.startsWith('diagnostic: fan-out'))).toMatchObject({
      diagnostic: true,
    });
    const direct = result.modes.find((m) => m.label === 'direct')!;
    // API load: one watch per type per replica through Tabby, one per type per agent direct.
    expect(direct.api!.watchesOpen).toBeGreaterThanOrEqual((direct.agents * tabby.api!.watchesOpen) / 2);
    expect(tabby.api!.watchesOpen).toBeLessThan(direct.api!.watchesOpen);
    for (const m of result.modes.filter((x) => x.rollout)) {
      expect(m.rollout!.disconnects, m.label).toBeGreaterThanOrEqual(m.agents);
      expect(m.rollout!.current, m.label).toBe(m.rollout!.alive);
    }
    expect(result.targets.length).toBeGreaterThan(0);
  });

  it('the HTML report renders its plots in headless Chromium, offline', { timeout: 60_000 }, async () => {
    requireChromium();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(`file://${join(dir, 'smoke.html')}`);
      await page.waitForSelector('body[data-charts]', { timeout: 20_000 });
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      expect(await page.getAttribute('body', 'data-charts')).toBe('6');
      // Each canvas has something drawn on it (not a blank bitmap).
      type Canvas = {
        width: number;
        height: number;
        getContext(kind: '2d'): {
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
      };
      const inked = await page.$$eval('canvas', (cs) =>
        cs.map((el) => {
          const c = el as unknown as Canvas;
          const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
          let n = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
          return n;
        }),
      );
      expect(inked).toHaveLength(6);
      for (const n of inked) expect(n).toBeGreaterThan(1_000);
      expect(await page.textContent('h1')).toBe('tabby loadtest: smoke');
    } finally {
      await browser.close();
    }
  });
});
