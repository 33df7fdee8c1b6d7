// Debian's Chromium for browser tests, as this machine runs it: headless, no sandbox (root),
// and no background networking (the closed network refuses it). A missing browser fails the
// test with the fix, never a silent skip.

import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function requireChromium(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run scripts/system-deps.sh as root (Debian package chromium)`);
}
