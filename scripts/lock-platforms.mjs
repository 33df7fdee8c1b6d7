#!/usr/bin/env node
// Our npm registry serves only the Linux builds of packages that ship one optional package
// per platform (@biomejs/cli-*, @msgpackr-extract/*). `npm install` then leaves the other
// platforms out of package-lock.json, and `npm ci` rejects the lock as out of sync. This adds
// the missing entries, marked optional and for their own os/cpu/libc, so `npm ci` skips them
// on Linux without fetching. Run it after any `npm install` that changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pkgs = lock.packages;
const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openbsd', 'sunos', 'aix', 'netbsd'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'];
let added = 0;
for (const [where, meta] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key]) continue;
    const parts = name.split('/').pop().split('-');
    const os = OS.find((o) => parts.includes(o));
    const cpu = CPU.find((c) => parts.includes(c));
    if (!os || !cpu) {
      console.error(
        `lock-platforms: ${name} (from ${where || 'root'}) is missing and has no platform in its name`,
      );
      process.exitCode = 1;
      continue;
    }
    const entry = { version, cpu: [cpu], ...(meta.dev ? { dev: true } : {}), optional: true, os: [os] };
    if (parts.includes('musl')) entry.libc = ['musl'];
    else if (os === 'linux' && parts.includes('gnu')) entry.libc = ['glibc'];
    pkgs[key] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-platforms: added ${added} platform entries`);
