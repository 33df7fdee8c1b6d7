// The self-contained HTML report: the result as embedded JSON, Chart.js (from node_modules)
// inlined, and a small script that draws the plots — no network, one file to attach to an
// issue. Plots: delivery-latency CDF, agents in sync over time, server CPU and RSS over time,
// API load, bytes per agent. The page marks itself rendered (body[data-charts]) for tests.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { consoleTable, type LoadtestResult } from './results.js';

const require = createRequire(import.meta.url);

function chartJs(): string {
  // The package's exports hide dist/chart.umd.js; it sits beside the main entry (dist/chart.cjs).
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');
}

/** JSON safe inside a <script> element. */
const embed = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');
const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Runs in the page: one chart per canvas, from the embedded result. */
const PAGE_SCRIPT = `
const r = JSON.parse(document.getElementById('result').textContent);
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const modes = r.modes;
const common = { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { position: 'bottom' } } };
let drawn = 0;
function line(id, yOf, yTitle, opts = {}) {
  const datasets = modes.map((m, i) => ({
    label: m.label, borderColor: colors[i % colors.length], pointRadius: 0, borderWidth: 1.5,
    data: opts.points ? opts.points(m) : m.timeline.map((p) => ({ x: p.t, y: yOf(p) })),
  })).concat(opts.extra || []).filter((d) => d.data.length > 0);
  new Chart(document.getElementById(id), { type: 'line', data: { datasets }, options: { ...common,
    parsing: false, scales: { x: { type: opts.xType || 'linear', title: { display: true, text: opts.xTitle || 'seconds since the mode started' } },
      y: { title: { display: true, text: yTitle }, beginAtZero: true } } } });
  drawn++;
}
function bars(id, values, yTitle) {
  new Chart(document.getElementById(id), { type: 'bar', data: { labels: modes.map((m) => m.label),
    datasets: values.map((v, i) => ({ label: v.label, backgroundColor: colors[i % colors.length], data: modes.map(v.of) })) },
    options: { ...common, scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } } } });
  drawn++;
}
// Tabby's split at the replica's first socket, dashed beside the end-to-end curves.
const splitCurves = modes.filter((m) => m.window && m.window.split).flatMap((m, i) => [
  ['upstream (API write to the replica\u2019s first socket)', m.window.split.upstreamCdf, [6, 3]],
  ['fan-out (agent minus upstream, same stamp)', m.window.split.fanoutCdf, [2, 2]],
].map(([what, cdf, dash], k) => ({ label: m.label + ' ' + what, borderColor: colors[(modes.length + 2 * i + k) % colors.length],
  borderDash: dash, pointRadius: 0, borderWidth: 1.5, data: cdf.filter(([x]) => x > 0).map(([x, y]) => ({ x, y })) })));
line('cdf', null, 'fraction of deliveries', { xType: 'logarithmic', xTitle: 'API write to agent, ms',
  points: (m) => (m.window ? m.window.cdf.map(([x, y]) => ({ x, y })) : []), extra: splitCurves });
line('insync', (p) => p.inSync, 'agents in sync');
line('cpu', (p) => p.serverCpuPct, 'server CPU, % of one core');
line('rss', (p) => p.serverRssMiB, 'server RSS, MiB');
bars('api', [
  { label: 'API MiB served', of: (m) => (m.api ? m.api.bytesServed / 1048576 : 0) },
  { label: 'watches open', of: (m) => (m.api ? m.api.watchesOpen : 0) },
  { label: 'lists', of: (m) => (m.api ? m.api.lists : 0) },
], 'count / MiB');
bars('bytes', [
  { label: 'KiB received per agent in the window', of: (m) => (m.window ? m.window.bytesPerAgent / 1024 : 0) },
  { label: 'KiB per agent in the rollout', of: (m) => (m.rollout ? m.rollout.bytesDuringRollout / m.agents / 1024 : 0) },
], 'KiB per agent');
document.body.dataset.charts = String(drawn);
`;

export function renderHtml(r: LoadtestResult): string {
  const title = `tabby loadtest: ${r.scenario.name}`;
  const plots = [
    ['cdf', 'Delivery latency (CDF)'],
    ['insync', 'Agents in sync'],
    ['cpu', 'Server CPU'],
    ['rss', 'Server RSS'],
    ['api', 'API load'],
    ['bytes', 'Bytes per agent'],
  ]
    .map(([id, h]) => `<section><h2>${h}</h2><div class="plot"><canvas id="${id}"></canvas></div></section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1.5em; }
.plot { position: relative; height: 320px; }
h2 { font-size: 16px; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p>${esc(r.scenario.description)}</p>
<p>${esc(`${r.startedAt}, ${r.elapsedS} s; ${r.machine.cpus} CPUs, load average ${r.machine.loadAvg1AtStart} at start; node ${r.machine.node}; cluster of ${r.cluster.objects.toLocaleString('en-US')} objects, ${r.cluster.pods.toLocaleString('en-US')} pods`)}</p>
<pre>${esc(consoleTable(r))}</pre>
${r.modes
  .filter((m) => m.note || m.error)
  .map((m) => `<p><b>${esc(m.label)}</b>: ${esc(m.error ?? m.note ?? '')}</p>`)
  .join('\n')}
<div class="grid">
${plots}
</div>
<script id="result" type="application/json">${embed(r)}</script>
<script>${chartJs()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
