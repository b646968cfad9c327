/**
 * KeyStore on plain files in the state directory:
 *
 *   <dir>/keys/            mode 0700
 *     identity.x25519      32 raw bytes, mode 0600  current identity secret
 *     identity.prev.x25519 32 raw bytes, mode 0600  previous identity (after rotateIdentity)
 *     device.ed25519       32 raw bytes, mode 0600  Ed25519 seed signing debit records
 *   <dir>/public/          mode 0755  identity card, authority key, issuer keys (text)
 *
 * Every write is atomic (atomic-file.ts). A key file or key directory that grants any
 * permission to group or other is refused (KEY_FILE_MODE): someone may have copied it.
 *
 * INVARIANTS: existing secrets are never overwritten except the current identity inside
 * `rotateIdentity`, and only after it is linked as the previous identity.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, readSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { equalBytes } from '../core/encoding/bytes.ts';
import { BoxError } from '../core/errors.ts';
import { fsyncDir, writeFileAtomic } from './atomic-file.ts';
import type { IdentitySecrets, KeyStore, SecretKey } from './types.ts';

export const KEY_FILES = {
  identity: 'identity.x25519',
  previousIdentity: 'identity.prev.x25519',
  device: 'device.ed25519',
} as const;

const KEY_LENGTH = 32;
const PUBLIC_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface FileKeyStoreOptions {
  /** The state directory (checked by checkStateDirSafe before). */
  stateDir: string;
  /** Source of key bytes (default node:crypto randomBytes). */
  randomBytes?: (n: number) => Uint8Array;
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

export class FileKeyStore implements KeyStore {
  readonly description: string;
  readonly #keysDir: string;
  readonly #publicDir: string;
  readonly #random: (n: number) => Uint8Array;

  constructor(options: FileKeyStoreOptions) {
    this.#keysDir = path.join(options.stateDir, 'keys');
    this.#publicDir = path.join(options.stateDir, 'public');
    this.#random = options.randomBytes ?? ((n) => new Uint8Array(nodeRandomBytes(n)));
    this.description = `file:${this.#keysDir}`;
  }

  #path(name: string): string {
    return path.join(this.#keysDir, name);
  }

  hasKeys(): boolean {
    return existsSync(this.#path(KEY_FILES.identity)) && existsSync(this.#path(KEY_FILES.device));
  }

  generate(): void {
    this.#ensureKeysDir();
    for (const name of [KEY_FILES.identity, KEY_FILES.device]) {
      if (existsSync(this.#path(name))) {
        throw new BoxError('KEY_EXISTS', `keystore.generate: ${JSON.stringify(this.#path(name))} already exists; use rotateIdentity to replace the identity`);
      }
    }
    const identity = this.#fresh('generate');
    const device = this.#fresh('generate');
    if (equalBytes(identity, device)) throw new BoxError('KEY_RNG_FAILED', 'keystore.generate: the random source returned the same 32 bytes twice');
    writeFileAtomic(this.#path(KEY_FILES.device), device, { mode: 0o600, noClobber: true });
    writeFileAtomic(this.#path(KEY_FILES.identity), identity, { mode: 0o600, noClobber: true });
  }

  loadIdentity(): IdentitySecrets {
    this.#checkKeysDir('loadIdentity');
    const current = this.#readKey('loadIdentity', KEY_FILES.identity);
    if (current === undefined) throw this.#missing('loadIdentity', KEY_FILES.identity);
    const previous = this.#readKey('loadIdentity', KEY_FILES.previousIdentity);
    return { current: raw(current), previous: previous === undefined ? null : raw(previous) };
  }

  loadDeviceKey(): SecretKey {
    this.#checkKeysDir('loadDeviceKey');
    const seed = this.#readKey('loadDeviceKey', KEY_FILES.device);
    if (seed === undefined) throw this.#missing('loadDeviceKey', KEY_FILES.device);
    return raw(seed);
  }

  rotateIdentity(): void {
    const fn = 'rotateIdentity';
    this.#checkKeysDir(fn);
    const current = this.#readKey(fn, KEY_FILES.identity);
    if (current === undefined) throw this.#missing(fn, KEY_FILES.identity);
    const previous = this.#readKey(fn, KEY_FILES.previousIdentity);
    if (previous === undefined) {
      // link(2): atomic and never overwrites; the previous file shares the current inode (mode 0600)
      try {
        linkSync(this.#path(KEY_FILES.identity), this.#path(KEY_FILES.previousIdentity));
      } catch (e) {
        throw ioError(fn, this.#path(KEY_FILES.previousIdentity), e);
      }
      fsyncDir(this.#keysDir);
    } else if (!equalBytes(previous, current)) {
      throw new BoxError(
        'KEY_PREVIOUS_PRESENT',
        `keystore.rotateIdentity: ${JSON.stringify(this.#path(KEY_FILES.previousIdentity))} still holds an older identity; drop it first`,
      );
    } // else: a rotation was cut after the link; finish it
    const next = this.#fresh(fn);
    if (equalBytes(next, current)) throw new BoxError('KEY_RNG_FAILED', 'keystore.rotateIdentity: the random source returned the current key again');
    writeFileAtomic(this.#path(KEY_FILES.identity), next, { mode: 0o600 });
  }

  dropPreviousIdentity(): boolean {
    const p = this.#path(KEY_FILES.previousIdentity);
    try {
      unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ioError('dropPreviousIdentity', p, e);
    }
    fsyncDir(this.#keysDir);
    return true;
  }

  readPublic(name: string): string | undefined {
    const p = path.join(this.#publicDir, checkPublicName('readPublic', name));
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError('readPublic', p, e);
    }
  }

  writePublic(name: string, text: string): void {
    const p = path.join(this.#publicDir, checkPublicName('writePublic', name));
    try {
      mkdirSync(this.#publicDir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw ioError('writePublic', this.#publicDir, e);
    }
    writeFileAtomic(p, new TextEncoder().encode(text), { mode: 0o644 });
  }

  #fresh(fn: string): Uint8Array {
    const b = this.#random(KEY_LENGTH);
    if (!(b instanceof Uint8Array) || b.length !== KEY_LENGTH || b.every((x) => x === 0)) {
      throw new BoxError('KEY_RNG_FAILED', `keystore.${fn}: the random source did not return 32 usable bytes`);
    }
    return b;
  }

  #missing(fn: string, name: string): BoxError {
    return new BoxError('KEY_MISSING', `keystore.${fn}: ${JSON.stringify(this.#path(name))} does not exist; run key generation first`);
  }

  #ensureKeysDir(): void {
    if (!existsSync(this.#keysDir)) {
      try {
        mkdirSync(this.#keysDir, { recursive: true, mode: 0o700 });
        chmodSync(this.#keysDir, 0o700);
      } catch (e) {
        throw ioError('generate', this.#keysDir, e);
      }
    }
    this.#checkKeysDir('generate');
  }

  #checkKeysDir(fn: string): void {
    let mode: number;
    try {
      mode = statSync(this.#keysDir).mode;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw this.#missing(fn, KEY_FILES.identity);
      throw ioError(fn, this.#keysDir, e);
    }
    if ((mode & 0o077) !== 0) {
      throw new BoxError('KEY_FILE_MODE', `keystore.${fn}: key directory ${JSON.stringify(this.#keysDir)} has mode ${octal(mode)}, expected 0700`);
    }
  }

  /** Reads a 32-byte key file; undefined when absent. The mode is checked on the open descriptor. */
  #readKey(fn: string, name: string): Uint8Array | undefined {
    const p = this.#path(name);
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(fn, p, e);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new BoxError('KEY_FILE_CORRUPT', `keystore.${fn}: ${JSON.stringify(p)} is not a regular file`);
      if ((st.mode & 0o077) !== 0) {
        throw new BoxError('KEY_FILE_MODE', `keystore.${fn}: ${JSON.stringify(p)} has mode ${octal(st.mode)}, expected 0600 (chmod 600 it only if nobody else could have read it)`);
      }
      if (st.size !== KEY_LENGTH) {
        throw new BoxError('KEY_FILE_CORRUPT', `keystore.${fn}: ${JSON.stringify(p)} has ${st.size} bytes, expected ${KEY_LENGTH}`);
      }
      const out = new Uint8Array(KEY_LENGTH);
      let off = 0;
      while (off < KEY_LENGTH) {
        const n = readSync(fd, out, off, KEY_LENGTH - off, off);
        if (n === 0) throw new BoxError('KEY_FILE_CORRUPT', `keystore.${fn}: ${JSON.stringify(p)} ended after ${off} bytes`);
        off += n;
      }
      return out;
    } catch (e) {
      throw e instanceof BoxError ? e : ioError(fn, p, e);
    } finally {
      closeSync(fd);
    }
  }
}

function raw(bytes: Uint8Array): SecretKey {
  return { kind: 'raw', bytes };
}

function ioError(fn: string, file: string, e: unknown): BoxError {
  const code = (e as NodeJS.ErrnoException)?.code ?? 'error';
  return new BoxError('KEY_IO', `keystore.${fn}: ${JSON.stringify(file)}: ${code}`, { cause: e });
}

function checkPublicName(fn: string, name: string): string {
  if (typeof name !== 'string' || !PUBLIC_NAME_RE.test(name) || name.includes('..')) {
    throw new BoxError('KEY_BAD_NAME', `keystore.${fn}: expected a plain file name [A-Za-z0-9._-], got ${JSON.stringify(String(name)).slice(0, 40)}`);
  }
  return name;
}
