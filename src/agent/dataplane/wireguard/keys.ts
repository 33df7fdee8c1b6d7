// The node's WireGuard private key: one base64 line in a file of mode 0600 (the format of
// `wg genkey`, so `wg set … private-key FILE` reads it as is), created with node:crypto's
// X25519 when absent or unusable. The private key never leaves this module except as that
// file path; nothing here logs key material (public keys are not secret).

import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../../model/logger.js';
import { WireguardError } from './errors.js';

// DER prefix of a PKCS#8 X25519 private key (RFC 8410): the 32 raw bytes follow.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A fresh private key, clamped as `wg genkey` does (RFC 7748). */
export function generatePrivateKey(): Buffer {
  const k = randomBytes(32);
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return k;
}

/** The base64 public key of a raw 32-byte private key. */
export function publicKeyOf(privateKey: Buffer): string {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519, privateKey]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('base64');
}

function decode(text: string): Buffer | undefined {
  const s = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  return b.length === 32 ? b : undefined;
}

/** Writes a key file atomically with mode 0600 (never briefly readable by others). */
async function writeKeyFile(file: string, key: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${key.toString('base64')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

export interface KeyPair {
  /** The file holding the private key (what `wg set private-key` reads). */
  readonly file: string;
  readonly publicKey: string;
}

/**
 * The active key in `file`, and during a rotation a pending one in `file.next` that is
 * published before the device switches to it.
 */
export class KeyStore {
  #active: KeyPair | undefined;
  #pending: KeyPair | undefined;

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {}

  get active(): KeyPair | undefined {
    return this.#active;
  }

  get pending(): KeyPair | undefined {
    return this.#pending;
  }

  /** Loads the key, or creates one when the file is absent, unreadable or malformed. */
  async load(): Promise<KeyPair> {
    if (this.#active !== undefined) return this.#active;
    try {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      // A rotation interrupted before its switch: the peers may or may not have its public key;
      // keeping the active key and republishing it converges either way.
      await rm(`${this.file}.next`, { force: true });
      let key: Buffer | undefined;
      let why = 'absent';
      try {
        const st = await stat(this.file);
        key = decode(await readFile(this.file, 'utf8'));
        if (key === undefined) why = 'malformed';
        else if ((st.mode & 0o077) !== 0) {
          this.log.warn(
            { file: this.file, mode: (st.mode & 0o777).toString(8) },
            'WireGuard key file readable by others; setting mode 0600',
          );
          await chmod(this.file, 0o600);
        }
      } catch (err) {
        why =
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'absent'
            : `unreadable (${(err as Error).message})`;
      }
      if (key === undefined) {
        key = generatePrivateKey();
        await writeKeyFile(this.file, key);
        this.log.warn({ file: this.file, reason: why }, `WireGuard private key ${why}; generated a new one`);
      }
      this.#active = { file: this.file, publicKey: publicKeyOf(key) };
      return this.#active;
    } catch (err) {
      throw new WireguardError('key', `cannot load or create ${this.file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Creates the next key (file.next) without activating it; returns its pair. */
  async prepareRotation(): Promise<KeyPair> {
    try {
      const key = generatePrivateKey();
      const file = `${this.file}.next`;
      await rm(file, { force: true });
      await writeKeyFile(file, key);
      this.#pending = { file, publicKey: publicKeyOf(key) };
      return this.#pending;
    } catch (err) {
      throw new WireguardError('key', `cannot create the next key: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Makes the pending key the active one (after the device switched to it). */
  async commitRotation(): Promise<KeyPair> {
    const next = this.#pending;
    if (next === undefined) throw new WireguardError('key', 'no rotation in progress');
    try {
      await rename(next.file, this.file);
    } catch (err) {
      throw new WireguardError('key', `cannot commit the next key: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#pending = undefined;
    this.#active = { file: this.file, publicKey: next.publicKey };
    return this.#active;
  }
}
