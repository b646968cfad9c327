import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { writeFileAtomic } from '../../device/keys/atomic-file.ts';
import { FileKeyStore, KEY_FILES } from '../../device/keys/file-keystore.ts';
import { unlockKeys } from '../../device/keys/unlock.ts';

/** Deterministic random source: 0x01.., 0x02.., ... so tests know which key is which. */
function seqRandom() {
  let n = 0;
  return (len: number) => new Uint8Array(len).fill(++n);
}

function err(fn: () => unknown): BoxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BoxError);
    return e as BoxError;
  }
  throw new Error('expected a BoxError, nothing was thrown');
}

const mode = (p: string) => statSync(p).mode & 0o777;

let stateDir: string;
let keysDir: string;
beforeEach(() => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'keys-'));
  keysDir = path.join(stateDir, 'keys');
});
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

describe('FileKeyStore', () => {
  it('generates an identity and a device key: 32 raw bytes, files 0600 in a 0700 directory', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    expect(ks.hasKeys()).toBe(false);
    ks.generate();
    expect(ks.hasKeys()).toBe(true);
    expect(mode(keysDir)).toBe(0o700);
    for (const f of [KEY_FILES.identity, KEY_FILES.device]) {
      expect(mode(path.join(keysDir, f))).toBe(0o600);
      expect(readFileSync(path.join(keysDir, f))).toHaveLength(32);
    }
    expect(readdirSync(keysDir).sort()).toEqual([KEY_FILES.device, KEY_FILES.identity].sort()); // no temp files left
    const ids = ks.loadIdentity();
    expect(ids.current).toEqual({ kind: 'raw', bytes: new Uint8Array(32).fill(1) });
    expect(ids.previous).toBeNull();
    expect(ks.loadDeviceKey().bytes).toEqual(new Uint8Array(32).fill(2));
  });

  it('creates 0600 files even under a permissive umask', () => {
    const old = process.umask(0o000);
    try {
      new FileKeyStore({ stateDir, randomBytes: seqRandom() }).generate();
    } finally {
      process.umask(old);
    }
    expect(mode(path.join(keysDir, KEY_FILES.identity))).toBe(0o600);
    expect(mode(keysDir)).toBe(0o700);
  });

  it('refuses to overwrite existing keys', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    ks.generate();
    const before = readFileSync(path.join(keysDir, KEY_FILES.identity));
    expect(err(() => ks.generate()).code).toBe('KEY_EXISTS');
    expect(readFileSync(path.join(keysDir, KEY_FILES.identity))).toEqual(before);
  });

  it('refuses a key file readable by group or other with KEY_FILE_MODE, naming file and mode but not the key', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: () => new Uint8Array(32).fill(0xab) });
    expect(() => ks.generate()).toThrow(/same 32 bytes twice/); // identity == device: broken RNG refused
    const ks2 = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    ks2.generate();
    const file = path.join(keysDir, KEY_FILES.device);
    chmodSync(file, 0o644);
    const e = err(() => ks2.loadDeviceKey());
    expect(e.code).toBe('KEY_FILE_MODE');
    expect(e.message).toContain(file);
    expect(e.message).toContain('0644');
    expect(e.message).not.toContain(toHex(readFileSync(file)));
    chmodSync(file, 0o640);
    expect(err(() => ks2.loadDeviceKey()).code).toBe('KEY_FILE_MODE');
    chmodSync(file, 0o600);
    expect(ks2.loadDeviceKey().bytes).toHaveLength(32);
  });

  it('refuses a key directory open to group or other', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    ks.generate();
    chmodSync(keysDir, 0o755);
    const e = err(() => ks.loadIdentity());
    expect(e.code).toBe('KEY_FILE_MODE');
    expect(e.message).toContain('0755');
  });

  it('reports missing and corrupt keys without their content', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    expect(err(() => ks.loadIdentity()).code).toBe('KEY_MISSING');
    ks.generate();
    writeFileSync(path.join(keysDir, KEY_FILES.identity), 'short', { mode: 0o600 });
    const e = err(() => ks.loadIdentity());
    expect(e.code).toBe('KEY_FILE_CORRUPT');
    expect(e.message).toMatch(/5 bytes, expected 32/);
  });

  it('rotates: current becomes previous, previous is kept until dropped', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    ks.generate(); // identity 0x01, device 0x02
    ks.rotateIdentity(); // new identity 0x03
    let ids = ks.loadIdentity();
    expect(ids.current.bytes[0]).toBe(3);
    expect(ids.previous?.bytes[0]).toBe(1);
    expect(mode(path.join(keysDir, KEY_FILES.previousIdentity))).toBe(0o600);
    expect(ks.loadDeviceKey().bytes[0]).toBe(2); // device key untouched

    expect(err(() => ks.rotateIdentity()).code).toBe('KEY_PREVIOUS_PRESENT');
    expect(ks.loadIdentity().current.bytes[0]).toBe(3);

    expect(ks.dropPreviousIdentity()).toBe(true);
    expect(ks.dropPreviousIdentity()).toBe(false);
    ks.rotateIdentity(); // 0x04
    ids = ks.loadIdentity();
    expect([ids.current.bytes[0], ids.previous?.bytes[0]]).toEqual([4, 3]);
  });

  it('finishes a rotation cut after the link step (previous == current)', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    ks.generate();
    const cur = readFileSync(path.join(keysDir, KEY_FILES.identity));
    writeFileSync(path.join(keysDir, KEY_FILES.previousIdentity), cur, { mode: 0o600 });
    ks.rotateIdentity();
    const ids = ks.loadIdentity();
    expect([ids.current.bytes[0], ids.previous?.bytes[0]]).toEqual([3, 1]);
  });

  it('refuses an all-zero or short random source', () => {
    expect(err(() => new FileKeyStore({ stateDir, randomBytes: (n) => new Uint8Array(n) }).generate()).code).toBe('KEY_RNG_FAILED');
    expect(err(() => new FileKeyStore({ stateDir, randomBytes: () => new Uint8Array(16).fill(1) }).generate()).code).toBe('KEY_RNG_FAILED');
    expect(existsSync(path.join(keysDir, KEY_FILES.identity))).toBe(false);
  });

  it('stores public material as plain text files and rejects path tricks', () => {
    const ks = new FileKeyStore({ stateDir });
    expect(ks.readPublic('identity-card.txt')).toBeUndefined();
    ks.writePublic('identity-card.txt', 'QRPAY-CARD:v1:abc');
    ks.writePublic('identity-card.txt', 'QRPAY-CARD:v1:def');
    expect(ks.readPublic('identity-card.txt')).toBe('QRPAY-CARD:v1:def');
    expect(mode(path.join(stateDir, 'public', 'identity-card.txt'))).toBe(0o644);
    for (const bad of ['../keys/identity.x25519', '', '.hidden', 'a/b', 'x..y']) {
      expect(err(() => ks.writePublic(bad, 'x')).code).toBe('KEY_BAD_NAME');
    }
  });
});

describe('writeFileAtomic', () => {
  it('replaces the content in one step and leaves no temp file', () => {
    const f = path.join(stateDir, 'f.bin');
    writeFileAtomic(f, new Uint8Array([1, 2]), { mode: 0o600 });
    writeFileAtomic(f, new Uint8Array([3, 4, 5]), { mode: 0o600 });
    expect(new Uint8Array(readFileSync(f))).toEqual(new Uint8Array([3, 4, 5]));
    expect(readdirSync(stateDir)).toEqual(['f.bin']);
  });

  it('with noClobber refuses an existing target and keeps it', () => {
    const f = path.join(stateDir, 'f.bin');
    writeFileAtomic(f, new Uint8Array([1]), { mode: 0o600, noClobber: true });
    expect(err(() => writeFileAtomic(f, new Uint8Array([2]), { mode: 0o600, noClobber: true })).code).toBe('KEY_EXISTS');
    expect(new Uint8Array(readFileSync(f))).toEqual(new Uint8Array([1]));
    expect(readdirSync(stateDir)).toEqual(['f.bin']);
  });

  it('fails with KEY_IO when the directory is missing', () => {
    expect(err(() => writeFileAtomic(path.join(stateDir, 'no', 'f'), new Uint8Array([1]), { mode: 0o600 })).code).toBe('KEY_IO');
  });
});

describe('unlockKeys', () => {
  it('wraps the stored secrets in the crypto provider', () => {
    const ks = new FileKeyStore({ stateDir, randomBytes: seqRandom() });
    ks.generate();
    ks.rotateIdentity();
    const provider = {
      x25519PrivateKey: (secret: Uint8Array) => ({ publicKey: x25519.getPublicKey(secret), dh: () => null }),
      ed25519Signer: (seed: Uint8Array) => ({ publicKey: ed25519.getPublicKey(seed), sign: (m: Uint8Array) => ed25519.sign(m, seed) }),
    } as unknown as CryptoProvider;
    const keys = unlockKeys(ks, provider);
    expect(keys.identity.publicKey).toEqual(x25519.getPublicKey(new Uint8Array(32).fill(3)));
    expect(keys.previousIdentity?.publicKey).toEqual(x25519.getPublicKey(new Uint8Array(32).fill(1)));
    const msg = new Uint8Array([1, 2, 3]);
    expect(ed25519.verify(keys.device.sign(msg), msg, ed25519.getPublicKey(new Uint8Array(32).fill(2)))).toBe(true);
  });
});
