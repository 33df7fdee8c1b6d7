// `tabby loadtest` pieces without processes: scenario files (bundled ones parse, bad ones are
// ConfigErrors naming the field), the send stamps every mode measures with (found in
// MessagePack and JSON alike, restamped in place), and the scenario's pass-through serve flags.

import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FrameSplitter, restamped } from '../../loadtest/recorder.js';
import { serverFlags } from '../../loadtest/replicas.js';
import { checkTargets, consoleTable, type LoadtestResult } from '../../loadtest/results.js';
import { bundledScenarios, loadScenario, parseScenario } from '../../loadtest/scenario.js';
import { formatStamp, readStamps, restamp, STAMP_BYTES, STAMP_LABEL } from '../../loadtest/stamp.js';
import { ConfigError } from '../../src/config/errors.js';
import { encodeKV, encodeMessage, FLAG_DEFLATE, packr } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';

describe('loadtest scenarios', () => {
  it('every bundled scenario parses, with tabby ahead of the ceiling', () => {
    const names = bundledScenarios();
    expect(names).toEqual(
      expect.arrayContaining(['smoke', 'fanout-1k', 'fanout-10k', 'storm-1k', 'rollout-3x1k']),
    );
    for (const n of names) {
      const s = loadScenario(n);
      expect(s.name).toBe(n);
      if (s.modes.includes('ceiling'))
        expect(s.modes.indexOf('tabby')).toBeLessThan(s.modes.indexOf('ceiling'));
    }
  });

  it('fills defaults and orders modes', () => {
    const s = parseScenario('name: x\nmodes: [ceiling, tabby]\n', 'x.yaml');
    expect(s.modes).toEqual(['tabby', 'ceiling']);
    expect(s.agents).toMatchObject({ count: 100, connect: 'steady' });
    expect(s.server).toEqual({ tls: false, extraArgs: [] });
  });

  it.each([
    ['name: x\nagents: { count: 10, bogus: 1 }\n', /agents: Unrecognized key/i],
    ['name: x\nmodes: [ceiling]\n', /modes must include tabby/],
    ['name: x\ncluster: { nodes: 5000, podsPerNode: 40 }\n', /200000 pods/],
    ['name: x\nmodes: [rollout]\nreplicas: 1\n', /replicas of 2 or more/],
    ['name: X Y\n', /name:/],
    ['name: x\n  - : [\n', /not YAML/],
    ['name: x\nchurn: { eventsPerSec: -1 }\n', /churn\.eventsPerSec/],
  ])('rejects %j', (text, why) => {
    expect(() => parseScenario(text, 'bad.yaml')).toThrow(ConfigError);
    expect(() => parseScenario(text, 'bad.yaml')).toThrow(why);
  });

  it('an unknown name lists the bundled ones', () => {
    expect(() => loadScenario('nope')).toThrow(/no scenario named "nope"; bundled: .*smoke/);
    expect(() => loadScenario('../etc/passwd')).toThrow(ConfigError);
  });
});

describe('loadtest send stamps', () => {
  const labels = (ms: number) => ({ app: 'web', [STAMP_LABEL]: formatStamp(ms) });

  it('have a fixed width', () => {
    expect(formatStamp(1_735_000_000_000.125)).toBe('1735000000000.125');
    expect(formatStamp(1_735_000_000_000)).toHaveLength(STAMP_BYTES);
    expect(formatStamp(1_735_000_000_000.5)).toHaveLength(STAMP_BYTES);
  });

  it('are found in MessagePack KVs and in JSON watch events', () => {
    const kv = encodeKV('/calico/v1/host/n/workload/k8s/ns%2Fp/endpoint/eth0', {
      labels: labels(1_735_000_000_000.5),
    });
    expect(readStamps(kv)).toEqual([1_735_000_000_000.5]);
    const json = Buffer.from(
      JSON.stringify({ type: 'MODIFIED', object: { metadata: { labels: labels(1_735_000_000_001) } } }),
    );
    expect(readStamps(json)).toEqual([1_735_000_000_001]);
    expect(readStamps(Buffer.from(`"${STAMP_LABEL}":"12x"`))).toEqual([]);
    expect(readStamps(Buffer.from(`"${STAMP_LABEL}":"17350000000`))).toEqual([]); // cut short
  });

  it('restamp in place keeps the MessagePack valid', () => {
    const body = packr.pack({
      to: 7,
      kvs: [{ labels: labels(1_735_000_000_000) }, { labels: labels(1_735_000_000_002) }],
    });
    expect(restamp(body, 1_800_000_000_000.25)).toBe(2);
    const back = packr.unpack(body) as { kvs: { labels: Record<string, string> }[] };
    expect(back.kvs.map((k) => k.labels[STAMP_LABEL])).toEqual(['1800000000000.250', '1800000000000.250']);
  });

  it('a recorded frame is restamped, compressed or not, and splits back into frames', () => {
    const msg = {
      type: MsgType.Status,
      body: { status: 'in-sync', generation: 3, note: formatStamp(1) },
    } as never;
    for (const deflate of [false, true]) {
      const body = { to: 9, more: false, labels: labels(1_735_000_000_000) };
      const raw = encodeMessage({ type: MsgType.Delta, body } as never, { deflate, minDeflateBytes: 0 });
      expect(Boolean(raw[5]! & FLAG_DEFLATE)).toBe(deflate);
      const out = restamped(raw, 1_900_000_000_000);
      const split = new FrameSplitter();
      const frames = [
        ...split.push(Buffer.concat([out, encodeMessage(msg)]).subarray(0, 10)),
        ...split.push(Buffer.concat([out, encodeMessage(msg)]).subarray(10)),
      ];
      expect(frames).toHaveLength(2);
      expect(frames[0]!.equals(out)).toBe(true);
      expect(out[5]).toBe(raw[5]);
      const inflated = deflate ? inflateSync(out.subarray(6)) : out.subarray(6);
      expect(readStamps(inflated)).toEqual([1_900_000_000_000]);
    }
  });
});

describe('loadtest serve flags', () => {
  it('passes scenario settings through only when tabby serve has the flag', () => {
    const help = '  --compression <value>  compression offered\n  --workers <value> fan-out processes';
    expect(serverFlags({ workers: 2, compression: 'deflate', tls: false, extraArgs: ['--x'] }, help)).toEqual(
      ['--workers', '2', '--compression', 'deflate', '--x'],
    );
    expect(() => serverFlags({ workers: 2, tls: false, extraArgs: [] }, '--compression')).toThrow(
      /workers: 2, but this tabby serve has no --workers flag/,
    );
    expect(() => serverFlags({ tls: true, extraArgs: [] }, '')).toThrow(/no --tls flag/);
  });

  it('runs one process per replica when the scenario names no workers (as many as the ceiling gets)', () => {
    expect(serverFlags({ tls: false, extraArgs: [] }, '  --workers <value>')).toEqual(['--workers', '1']);
    expect(serverFlags({ tls: false, extraArgs: [] }, '  --compression <value>')).toEqual([]);
  });
});

describe('loadtest targets', () => {
  it('compares Tabby with the ceiling of the same run and rollouts with each other', () => {
    const window = (p99: number) => ({ latencyMs: { count: 1, p50: 1, p99, max: p99 } }) as never;
    const r = {
      scenario: parseScenario('name: x\nreplicas: 3\nmodes: [tabby, ceiling, rollout]\n', 'x'),
      modes: [
        { label: 'tabby', agents: 10, window: window(21), timeline: [] },
        { label: 'ceiling', agents: 10, window: window(20), timeline: [] },
        {
          label: 'r1',
          rollout: {
            resume: true,
            bytesDuringRollout: 4,
            everyAgentCurrentMs: 9_000,
            current: 5,
            alive: 5,
            resumes: 5,
          },
        },
        { label: 'r2', rollout: { resume: false, bytesDuringRollout: 100 } },
      ],
    } as unknown as LoadtestResult;
    const t = checkTargets(r);
    expect(t.find((x) => x.name.startsWith('p99 vs ceiling'))).toMatchObject({
      ok: true,
      measured: expect.stringContaining('1.05×'),
    });
    expect(t.find((x) => x.name.startsWith('rollout bytes'))).toMatchObject({ ok: true });
    expect(t.find((x) => x.name.startsWith('rollout: every agent'))).toMatchObject({ ok: true });
    (r.modes[0]!.window as { latencyMs: { p99: number } }).latencyMs.p99 = 23;
    expect(checkTargets(r).find((x) => x.name.startsWith('p99 vs ceiling'))?.ok).toBe(false);
    // No split measured: no diagnostic row.
    expect(checkTargets(r).find((x) => x.diagnostic)).toBeUndefined();
  });

  it('adds Tabby’s fan-out part against the ceiling as a diagnostic row, the target row unchanged', () => {
    const r = {
      scenario: parseScenario('name: x\nmodes: [tabby, ceiling]\n', 'x'),
      modes: [
        {
          label: 'tabby',
          agents: 10,
          window: {
            latencyMs: { p99: 60 },
            split: {
              upstreamMs: { p50: 5, p99: 40 },
              fanoutMs: { p50: 8, p99: 21 },
              matched: 9,
              unmatched: 0,
              beforeRecorder: 0,
              tailUpstreamShare: 0.5,
            },
          },
          timeline: [],
        },
        { label: 'ceiling', agents: 10, window: { latencyMs: { p99: 20 } }, timeline: [] },
      ],
    } as unknown as LoadtestResult;
    const t = checkTargets(r);
    expect(t.find((x) => x.name.startsWith('p99 vs ceiling'))).toMatchObject({
      ok: false,
      measured: expect.stringContaining('3.00×'),
    });
    expect(t.find((x) => x.diagnostic)).toMatchObject({
      name: 'diagnostic: fan-out p99 vs ceiling',
      measured: expect.stringContaining('1.05× (21.0 / 20.0 ms)'),
      ok: true,
    });
    const printed = consoleTable({ ...r, targets: t } as never);
    expect(printed).toMatch(/diagnostic: fan-out p99 vs ceiling.*\(within\)/);
    expect(printed).toMatch(/tabby: upstream .* p50 5\.0 \/ p99 40\.0 .*50 % of their latency upstream/);
  });
});
