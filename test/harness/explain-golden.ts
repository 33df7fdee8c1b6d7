// explain()'s answers pinned: one JSON line per flow, checked against a golden file under
// test/golden/explain/. The files were written by the plan-walking explain() that lived in
// src/agent/calc/explain.ts until issue 12 moved explain onto the maps evaluator, so a test
// that compares the maps with them still compares against that reference procedure.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Explanation, Flow } from '../../src/agent/dataplane/maps/index.js';

export function expectExplanations(name: string, rows: ReadonlyArray<readonly [Flow, Explanation]>): void {
  const text = rows.map(([flow, explanation]) => `${JSON.stringify({ flow, explanation })}\n`).join('');
  const url = new URL(`../golden/explain/${name}.jsonl`, import.meta.url);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(url)) writeFileSync(url, text);
  expect(text).toBe(readFileSync(url, 'utf8'));
}
