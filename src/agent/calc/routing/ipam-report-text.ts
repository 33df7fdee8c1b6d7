// Text rendering of an IpamReport for `tabby ipam show`: aligned columns, numbers right-aligned,
// one table per section so that scripts can also cut them apart by their headers.

import type { IpamReport } from './ipam-report.js';

export interface IpamTextOptions {
  readonly showBlocks?: boolean;
  readonly showBorrowed?: boolean;
}

type Align = 'l' | 'r';

/** Columns padded to their widest cell; the last column is not padded (no trailing spaces). */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        if (i === cells.length - 1 && align[i] !== 'r') return c;
        return align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
      })
      .join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

const pct = (part: number, whole: number): string =>
  whole === 0 ? '0%' : `${((part / whole) * 100).toFixed(part === 0 || part === whole ? 0 : 1)}%`;

export function renderIpamReport(report: IpamReport, opts: IpamTextOptions = {}): string {
  const out: string[] = [];
  out.push(
    table(
      ['POOL', 'CIDR', 'BLOCKS', 'IPS', 'IN USE', 'FREE'],
      report.pools.map((p) => [
        p.name,
        p.cidr,
        String(p.blocks),
        String(p.size),
        `${p.inUse} (${pct(p.inUse, p.size)})`,
        `${p.free} (${pct(p.free, p.size)})`,
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r'],
    ),
  );
  if (report.orphanBlocks > 0) out.push(`${report.orphanBlocks} block(s) lie outside every pool\n`);
  if (opts.showBlocks)
    out.push(
      table(
        ['BLOCK', 'POOL', 'NODE', 'IN USE', 'SIZE'],
        report.blocks.map((b) => [b.cidr, b.pool ?? '-', b.node ?? '-', String(b.inUse), String(b.size)]),
        ['l', 'l', 'l', 'r', 'r'],
      ),
    );
  if (opts.showBorrowed)
    out.push(
      report.borrowed.length === 0
        ? 'no borrowed addresses\n'
        : table(
            ['IP', 'BORROWING NODE', 'BLOCK', 'BLOCK OWNER'],
            report.borrowed.map((b) => [b.ip, b.node, b.block, b.blockOwner ?? '-']),
            ['l', 'l', 'l', 'l'],
          ),
    );
  return out.join('\n');
}
