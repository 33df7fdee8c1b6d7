// The live fleet page served on the metrics port: one self-contained HTML document (no CDN,
// no build step) that opens a WebSocket to FLEET_WS_PATH and keeps a table of the replica's
// agents as they connect, move and leave. Every peer-supplied string (hostnames) reaches the
// DOM through textContent only, and the Content-Security-Policy admits just this script.

import { createHash } from 'node:crypto';

export const FLEET_WS_PATH = '/fleet/ws';
/** Rows drawn at most; the worst come first, the rest are counted. */
const MAX_ROWS = 1_000;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const agents = new Map();
let report;
let retryMs = 500;
const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
};
const ago = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
};
const bytes = (n) => {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i];
};
const RANK = { divergent: 0, behind: 1, unacked: 2, current: 3 };
function render() {
  if (!report) return;
  $('server').textContent = report.serverId;
  const d = report.datastore;
  const ds = $('datastore');
  ds.textContent = d.inSync
    ? 'datastore in sync'
    : 'datastore NOT in sync (' + Object.entries(d.statuses).map((e) => e.join(' ')).join(', ') + ')' +
      (d.api && !d.api.live ? ', API not answering: ' + (d.api.reason || '?') : '') +
      ', data age ' + (d.dataAgeMs === null ? 'unknown (never in sync)' : ago(d.dataAgeMs));
  ds.className = d.inSync ? 'ok' : 'bad';
  const cards = $('syncers');
  cards.replaceChildren();
  for (const s of report.syncers) {
    const c = el('div', undefined, 'card');
    c.append(el('h2', s.syncer + ' · gen ' + s.headGeneration + ' · ' + s.status));
    const line = (label, v, cls) => { const p = el('div'); p.append(el('span', label + ' '), el('b', v, cls)); c.append(p); };
    line('agents', s.agents);
    line('current', s.current, 'ok');
    line('behind', s.behind, s.behind ? 'warn' : '');
    line('divergent', s.divergent, s.divergent ? 'bad' : '');
    line('unacked', s.unacked);
    line('max lag', ago(s.maxLagMs) + ' / ' + s.maxLagGenerations + ' gen');
    cards.append(c);
  }
  const closes = $('closes');
  closes.replaceChildren();
  for (const r of report.closes.reasons) closes.append(el('li', r.syncer + ' ' + r.reason + ': ' + r.count));
  if (report.closes.reasons.length === 0) closes.append(el('li', 'none'));
  $('window').textContent = ago(report.closes.coveredMs);
  const rows = [...agents.values()].sort(
    (a, b) => RANK[a.state] - RANK[b.state] || (b.lagMs || 0) - (a.lagMs || 0) || a.hostname.localeCompare(b.hostname),
  );
  const body = $('agents');
  body.replaceChildren(...rows.slice(0, ${MAX_ROWS}).map(row));
  $('count').textContent = rows.length + ' agents' + (rows.length > ${MAX_ROWS} ? ' (first ${MAX_ROWS} shown)' : '');
}
function row(a) {
  const tr = el('tr', undefined, a.state);
  tr.dataset.hostname = a.hostname;
  tr.dataset.state = a.state;
  tr.append(
    el('td', a.hostname || '(none)'), el('td', a.syncer), el('td', a.address),
    el('td', ago(report.atMs - a.connectedAtMs) + ' ago'),
    el('td', a.ackedGeneration === null ? '—' : a.ackedGeneration),
    el('td', a.lagMs === null ? '—' : a.lagGenerations + ' gen, ' + ago(a.lagMs)),
    el('td', bytes(a.bytesSent)), el('td', a.hash, 'hash-' + a.hash), el('td', a.state),
  );
  return tr;
}
function connect() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '${FLEET_WS_PATH}');
  ws.onopen = () => { retryMs = 500; $('conn').textContent = 'live'; $('conn').className = 'ok'; };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    report = m.report;
    if (m.full) agents.clear();
    for (const a of m.upsert) agents.set(a.id, a);
    for (const id of m.remove) agents.delete(id);
    render();
  };
  ws.onclose = () => {
    $('conn').textContent = 'reconnecting'; $('conn').className = 'bad';
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}
connect();
`;

const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
header { display: flex; gap: 1.5em; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.3em; margin: 0; }
h2 { font-size: 1em; margin: 0 0 .4em; }
.card { display: inline-block; border: 1px solid #ccc; border-radius: 6px; padding: .6em 1em; margin: .8em .8em 0 0; min-width: 12em; }
table { border-collapse: collapse; margin-top: 1em; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #eee; white-space: nowrap; }
th { background: #f4f4f4; }
.ok { color: #17702b; } .warn { color: #a15c00; } .bad { color: #b3261e; font-weight: bold; }
tr.divergent { background: #fde7e7; } tr.behind { background: #fff4df; } tr.unacked { color: #777; }
.hash-divergent { color: #b3261e; font-weight: bold; }
`;

const scriptHash = createHash('sha256').update(SCRIPT).digest('base64');

/** Admits the page's own script and style and WebSockets to its own origin; nothing else. */
export const FLEET_PAGE_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${scriptHash}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const FLEET_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tabby fleet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<header><h1>Tabby fleet · <span id="server">…</span></h1><span id="conn">connecting</span>
<span id="datastore"></span></header>
<div id="syncers"></div>
<p>Closes in the last <span id="window">…</span>:</p><ul id="closes"></ul>
<p id="count"></p>
<table><thead><tr><th>Hostname</th><th>Syncer</th><th>Address</th><th>Connected</th><th>Acked gen</th>
<th>Lag</th><th>Bytes sent</th><th>Hash</th><th>State</th></tr></thead><tbody id="agents"></tbody></table>
<script>${SCRIPT}</script>
</body></html>
`;
