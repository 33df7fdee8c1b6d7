import { describe, expect, it } from 'vitest';
import type { DesiredRoute } from '../../src/agent/calc/routing/routes.js';
import type { Shim } from '../../src/agent/dataplane/iptables/driver.js';
import {
  diffRoutes,
  parseBatchFailures,
  parseIpRouteJson,
  RouteApplyError,
  RouteDriverOptionsError,
  RouteSpecError,
  RouteTableDriver,
  replaceLine,
} from '../../src/agent/dataplane/routes/index.js';

const bh = (dst: string): DesiredRoute => ({ dst, type: 'blackhole', reason: 'test' });
const via = (dst: string, v: string, extra: Partial<DesiredRoute> = {}): DesiredRoute => ({
  dst,
  type: 'unicast',
  via: v,
  reason: 'test',
  ...extra,
});

describe('ip route helpers', () => {
  it('parses ip -j output: host routes get /32, flags and metric are read', () => {
    const rows = parseIpRouteJson(
      '[{"type":"blackhole","dst":"10.244.1.0/26","flags":[]},' +
        '{"dst":"10.244.1.7","gateway":"10.0.0.2","dev":"tunl0","flags":["onlink"]},' +
        '{"dst":"default","gateway":"10.0.0.254","dev":"eth0","metric":100,"flags":[]}]',
    );
    expect(rows).toEqual([
      { dst: '10.244.1.0/26', type: 'blackhole', onlink: false, metric: 0 },
      { dst: '10.244.1.7/32', type: 'unicast', via: '10.0.0.2', dev: 'tunl0', onlink: true, metric: 0 },
      { dst: '0.0.0.0/0', type: 'unicast', via: '10.0.0.254', dev: 'eth0', onlink: false, metric: 100 },
    ]);
    expect(parseIpRouteJson('')).toEqual([]);
  });

  it('writes validated batch lines', () => {
    expect(replaceLine(bh('10.244.1.0/26'), 'main', 81)).toBe(
      'route replace blackhole 10.244.1.0/26 table main proto 81',
    );
    expect(replaceLine(via('10.244.2.0/26', '10.0.0.2', { dev: 'tunl0', onlink: true }), '100', 81)).toBe(
      'route replace 10.244.2.0/26 via 10.0.0.2 dev tunl0 onlink table 100 proto 81',
    );
    expect(() => replaceLine(via('10.244.2.0/26', '10.0.0.2; reboot'), 'main', 81)).toThrow(RouteSpecError);
    expect(() => replaceLine({ dst: '10.1.0.0/16', type: 'unicast', reason: 'x' }, 'main', 81)).toThrow(
      /needs via or dev/,
    );
  });

  it('diffs: unchanged kept, changed replaced, stale removed, foreign destinations left alone', () => {
    const ours = parseIpRouteJson(
      JSON.stringify([
        { type: 'blackhole', dst: '10.244.1.0/26', flags: [] },
        { dst: '10.244.2.0/26', gateway: '10.0.0.2', dev: 'eth0', flags: [] },
        { dst: '10.244.3.0/26', gateway: '10.0.0.3', dev: 'eth0', flags: [] },
      ]),
    );
    const others = parseIpRouteJson(
      JSON.stringify([
        { dst: '10.244.9.0/26', gateway: '10.0.0.9', dev: 'eth0', protocol: 'bird', flags: [] },
      ]),
    );
    const d = diffRoutes(
      [bh('10.244.1.0/26'), via('10.244.2.0/26', '10.0.0.4'), via('10.244.9.0/26', '10.0.0.5')],
      ours,
      others,
    );
    expect(d.unchanged).toBe(1);
    expect(d.replace.map((r) => r.dst)).toEqual(['10.244.2.0/26']);
    expect(d.remove.map((r) => r.dst)).toEqual(['10.244.3.0/26']);
    expect(d.conflicts.map((c) => c.route.dst)).toEqual(['10.244.9.0/26']);
    // A desired dev the kernel does not show means a change; an unset dev is not compared.
    expect(diffRoutes([via('10.244.2.0/26', '10.0.0.2', { dev: 'tunl0' })], ours, []).replace).toHaveLength(
      1,
    );
  });

  it('maps ip -batch failures to their lines', () => {
    expect(
      parseBatchFailures(
        'ip -force -batch -: Error: Nexthop has invalid gateway.\nCommand failed -:2\nRTNETLINK answers: No such process\nCommand failed -:3',
      ),
    ).toEqual([
      { line: 2, message: 'Error: Nexthop has invalid gateway.' },
      { line: 3, message: 'RTNETLINK answers: No such process' },
    ]);
  });
});

describe('RouteTableDriver with a fake shim', () => {
  it('rejects bad options at construction', () => {
    expect(() => new RouteTableDriver({ protocol: 12 })).toThrow(RouteDriverOptionsError);
    expect(() => new RouteTableDriver({ protocol: 2 })).toThrow(RouteDriverOptionsError);
    expect(() => new RouteTableDriver({ table: 255 })).toThrow(RouteDriverOptionsError);
  });

  it('sends one batch and names the failing route in a typed error', async () => {
    const calls: { args: readonly string[]; stdin?: string }[] = [];
    const shim: Shim = {
      async run(_cmd, args, stdin) {
        calls.push({ args, ...(stdin === undefined ? {} : { stdin }) });
        if (args[0] === '-j') return { stdout: '[]', stderr: '' };
        throw new Error('ip -force -batch -: Error: Nexthop has invalid gateway.\nCommand failed -:2');
      },
    };
    const driver = new RouteTableDriver({ shim, table: 100 });
    const err = await driver
      .apply([bh('10.244.1.0/26'), via('10.244.2.0/26', '10.9.9.9')])
      .catch((e: unknown) => e as RouteApplyError);
    expect(err).toBeInstanceOf(RouteApplyError);
    expect((err as RouteApplyError).code).toBe('TABBY_ERR_ROUTE_APPLY');
    expect((err as RouteApplyError).failures).toEqual([
      {
        dst: '10.244.2.0/26',
        command: 'route replace 10.244.2.0/26 via 10.9.9.9 table 100 proto 81',
        message: 'Error: Nexthop has invalid gateway.',
      },
    ]);
    expect((err as Error).message).toContain('10.244.2.0/26');
    const batches = calls.filter((c) => c.args.includes('-batch'));
    expect(batches).toHaveLength(1);
    expect(batches[0]!.stdin!.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('treats a table that does not exist yet as empty', async () => {
    const shim: Shim = {
      async run(_cmd, args) {
        if (args[0] === '-j')
          throw new Error('ip -j route show table 100: Error: ipv4: FIB table does not exist.');
        return { stdout: '', stderr: '' };
      },
    };
    expect(await new RouteTableDriver({ shim, table: 100 }).read()).toEqual([]);
  });
});
