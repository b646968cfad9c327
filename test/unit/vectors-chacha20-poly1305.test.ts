/** Wycheproof ChaCha20-Poly1305 on both providers. Only 96-bit nonces are valid for RFC 8439; other sizes must be refused. */
import { describe, expect, it } from 'vitest';
import { allProviders, hex, loadVectors, toHexString } from '../support/vectors.ts';

interface AeadCase {
  tcId: number;
  comment: string;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'acceptable' | 'invalid';
}

const file = loadVectors<{ numberOfTests: number; testGroups: Array<{ ivSize: number; keySize: number; tagSize: number; tests: AeadCase[] }> }>(
  'wycheproof_chacha20_poly1305.json',
);
const groups96 = file.testGroups.filter((g) => g.ivSize === 96 && g.keySize === 256 && g.tagSize === 128);
const cases96 = groups96.flatMap((g) => g.tests);
const otherIv = file.testGroups.filter((g) => g.ivSize !== 96).flatMap((g) => g.tests);

describe.each(allProviders())('Wycheproof ChaCha20-Poly1305 (%s)', (_name, p) => {
  it('covers every case in the file', () => {
    expect(cases96.length + otherIv.length).toBe(file.numberOfTests);
    expect(cases96.filter((c) => c.result === 'valid').length).toBeGreaterThan(0);
    expect(cases96.filter((c) => c.result === 'invalid').length).toBeGreaterThan(0);
  });

  it('valid cases encrypt to ct||tag and decrypt back', () => {
    for (const c of cases96.filter((x) => x.result === 'valid')) {
      const sealed = p.aeadSeal(hex(c.key), hex(c.iv), hex(c.aad), hex(c.msg));
      expect(toHexString(sealed), `tcId ${c.tcId}`).toBe(c.ct + c.tag);
      expect(toHexString(p.aeadOpen(hex(c.key), hex(c.iv), hex(c.aad), hex(c.ct + c.tag))), `tcId ${c.tcId}`).toBe(c.msg);
    }
  });

  it('invalid 96-bit cases are rejected with null', () => {
    for (const c of cases96.filter((x) => x.result === 'invalid')) {
      expect(p.aeadOpen(hex(c.key), hex(c.iv), hex(c.aad), hex(c.ct + c.tag)), `tcId ${c.tcId} ${c.comment}`).toBeNull();
    }
  });

  it('nonces other than 96 bits are refused: aeadOpen gives null, aeadSeal throws', () => {
    expect(otherIv.length).toBeGreaterThan(0);
    for (const c of otherIv) {
      expect(p.aeadOpen(hex(c.key), hex(c.iv), hex(c.aad), hex(c.ct + c.tag)), `tcId ${c.tcId}`).toBeNull();
      expect(() => p.aeadSeal(hex(c.key), hex(c.iv), hex(c.aad), hex(c.msg))).toThrow(/aeadSeal: expected nonce of 12 bytes/);
    }
  });

  it('hostile inputs give null, never a throw', () => {
    const c = cases96[0]!;
    const key = hex(c.key);
    const iv = hex(c.iv);
    const aad = hex(c.aad);
    const sealed = hex(c.ct + c.tag);
    expect(p.aeadOpen(key, iv, aad, new Uint8Array(0))).toBeNull();
    expect(p.aeadOpen(key, iv, aad, sealed.subarray(0, 15))).toBeNull();
    expect(p.aeadOpen(key.subarray(0, 31), iv, aad, sealed)).toBeNull();
    expect(p.aeadOpen(key, iv, aad, new Uint8Array(65536))).toBeNull();
    for (let i = 0; i < sealed.length; i++) {
      const flipped = sealed.slice();
      flipped[i]! ^= 0x80;
      expect(p.aeadOpen(key, iv, aad, flipped)).toBeNull();
    }
  });
});
