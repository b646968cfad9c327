/** Wycheproof X25519 on both providers; all-zero shared secrets must give null and fail HPKE (RFC 9180 7.1.4). */
import { describe, expect, it } from 'vitest';
import { hpkeOpen, setupBaseReceiver } from '../../device/core/crypto/hpke.ts';
import { allProviders, hex, loadVectors, toHexString } from '../support/vectors.ts';

interface XdhCase {
  tcId: number;
  comment: string;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: 'valid' | 'acceptable' | 'invalid';
}

const file = loadVectors<{ numberOfTests: number; testGroups: Array<{ curve: string; tests: XdhCase[] }> }>('wycheproof_x25519.json');
const cases = file.testGroups.filter((g) => g.curve === 'curve25519').flatMap((g) => g.tests);
const ZERO = '00'.repeat(32);
const zeroCases = cases.filter((c) => c.shared === ZERO);
const nonZeroCases = cases.filter((c) => c.shared !== ZERO && c.result !== 'invalid');
const invalidCases = cases.filter((c) => c.result === 'invalid');

describe.each(allProviders())('Wycheproof X25519 (%s)', (_name, p) => {
  it('covers every case in the file', () => {
    expect(cases.length).toBe(file.numberOfTests);
    expect(zeroCases.length).toBeGreaterThan(0);
    expect(zeroCases.length + nonZeroCases.length + invalidCases.length).toBe(cases.length);
  });

  it('every valid and acceptable case with a non-zero result gives the expected shared secret', () => {
    let valid = 0;
    for (const c of nonZeroCases) {
      const got = toHexString(p.x25519PrivateKey(hex(c.private)).dh(hex(c.public)));
      expect(got, `tcId ${c.tcId} ${c.comment}`).toBe(c.shared);
      if (c.result === 'valid') valid++;
    }
    expect(valid).toBeGreaterThan(0);
  });

  it('invalid cases give null', () => {
    for (const c of invalidCases) expect(p.x25519PrivateKey(hex(c.private)).dh(hex(c.public)), `tcId ${c.tcId}`).toBeNull();
  });

  it('every case with an all-zero shared secret gives null from dh and makes hpkeOpen fail', () => {
    const info = new TextEncoder().encode('box');
    for (const c of zeroCases) {
      const sk = p.x25519PrivateKey(hex(c.private));
      expect(sk.dh(hex(c.public)), `tcId ${c.tcId}`).toBeNull();
      expect(setupBaseReceiver(p, sk, hex(c.public), info), `tcId ${c.tcId}`).toBeNull();
      expect(hpkeOpen(p, sk, hex(c.public), info, new Uint8Array(0), new Uint8Array(48)), `tcId ${c.tcId}`).toBeNull();
    }
  });

  it('dh refuses wrong-length peer keys with null', () => {
    const sk = p.x25519PrivateKey(hex(cases[0]!.private));
    for (const n of [0, 1, 31, 33, 64]) expect(sk.dh(new Uint8Array(n).fill(9))).toBeNull();
  });
});
