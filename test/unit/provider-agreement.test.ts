/**
 * The box (node:crypto) and the acquirer/wallet (noble) must reach the same Ed25519 verdict on
 * every input, including crafted ones. Also cross-provider HPKE and signatures.
 */
import { verify as rawNodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { ed25519StrictPrecheck, SMALL_ORDER_ENCODINGS } from '../../device/core/crypto/ed25519-strict.ts';
import { deriveX25519KeyPair, hpkeOpen, hpkeSeal } from '../../device/core/crypto/hpke.ts';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { hex, loadVectors, toHexString } from '../support/vectors.ts';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const P = 2n ** 255n - 19n;
const nodeProvider = createNodeProvider();
const te = new TextEncoder();

interface Case {
  label: string;
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** Deterministic bytes for case i (no Math.random: failures must reproduce). */
const detBytes = (tag: string, i: number): Uint8Array => sha256(te.encode(`${tag}:${i}`));

function honest(i: number): Case & { scalar: bigint } {
  const seed = detBytes('seed', i);
  const message = detBytes('msg', i).subarray(0, i % 33);
  const { scalar } = ed25519.utils.getExtendedPublicKey(seed);
  return { label: `honest ${i}`, publicKey: ed25519.getPublicKey(seed), message, signature: ed25519.sign(message, seed), scalar };
}

/** A signature computed by hand for arbitrary R = [r]B + extra and A bytes, S = r + k*a mod L. */
function crafted(label: string, a: bigint, aBytes: Uint8Array, r: bigint, rExtra: typeof Point.ZERO, message: Uint8Array): Case {
  const R = Point.BASE.multiply(r).add(rExtra).toBytes();
  const k = bytesToNumberLE(sha512(new Uint8Array([...R, ...aBytes, ...message]))) % L;
  const S = (r + k * a) % L;
  return { label, publicKey: aBytes, message, signature: new Uint8Array([...R, ...numberToBytesLE(S, 32)]) };
}

function leBytes(n: bigint): Uint8Array {
  return numberToBytesLE(n, 32);
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  // 1. RFC 8032 vectors, as they are and mutated
  for (const v of loadVectors<{ vectors: Array<{ name: string; public_key: string; message: string; signature: string }> }>('rfc8032_ed25519.json').vectors) {
    cases.push({ label: v.name, publicKey: hex(v.public_key), message: hex(v.message), signature: hex(v.signature) });
    for (const byte of [0, 31, 32, 63]) {
      const sig = hex(v.signature);
      sig[byte]! ^= 0x01;
      cases.push({ label: `${v.name} sig byte ${byte}`, publicKey: hex(v.public_key), message: hex(v.message), signature: sig });
    }
  }
  // 2. 200 honest signatures with deterministic bit flips in the signature, key and message
  const T8 = Point.fromBytes(SMALL_ORDER_ENCODINGS[4]!);
  for (let i = 0; i < 200; i++) {
    const h = honest(i);
    cases.push(h);
    const pick = detBytes('flip', i);
    const sig = h.signature.slice();
    const bit = (pick[0]! * 2 + (pick[1]! & 1)) % 512;
    sig[bit >> 3]! ^= 1 << (bit & 7);
    cases.push({ ...h, label: `honest ${i} sig bit ${bit}`, signature: sig });
    const pk = h.publicKey.slice();
    pk[pick[2]! % 32]! ^= 1 << (pick[3]! & 7);
    cases.push({ ...h, label: `honest ${i} pk flip`, publicKey: pk });
    if (h.message.length > 0) {
      const msg = h.message.slice();
      msg[pick[4]! % msg.length]! ^= 1 << (pick[5]! & 7);
      cases.push({ ...h, label: `honest ${i} msg flip`, message: msg });
    }
    // 3. S + L (same value mod L, non-canonical): must be refused
    if (i < 40) {
      const S = bytesToNumberLE(h.signature.subarray(32));
      cases.push({ ...h, label: `honest ${i} S+L`, signature: new Uint8Array([...h.signature.subarray(0, 32), ...leBytes(S + L)]) });
    }
    // 4. torsion in R (cofactored verify accepts, cofactorless refuses) and mixed-order A
    if (i < 30) {
      cases.push(crafted(`R + T8 ${i}`, h.scalar, h.publicKey, 1000n + BigInt(i), T8, h.message));
      const mixedA = Point.BASE.multiply(h.scalar).add(T8).toBytes();
      cases.push(crafted(`A + T8 ${i}`, h.scalar, mixedA, 2000n + BigInt(i), Point.ZERO, h.message));
    }
  }
  // 5. small-order public keys, with the identity signature (R = identity, S = 0) and a random one
  const identitySig = new Uint8Array(64);
  identitySig[0] = 1;
  const smallOrder = [...SMALL_ORDER_ENCODINGS, leBytes(P), leBytes(P + 1n), leBytes(P - 1n + 2n ** 255n), leBytes(1n + 2n ** 255n)];
  for (const [j, A] of smallOrder.entries()) {
    cases.push({ label: `small-order A ${j} identity sig`, publicKey: A, message: te.encode('anything'), signature: identitySig });
    cases.push({ label: `small-order A ${j} honest sig`, publicKey: A, message: honest(j).message, signature: honest(j).signature });
  }
  // 6. non-canonical y (y + p) for A and for R
  for (let y = 2n; y < 19n; y++) {
    const h = honest(Number(y));
    cases.push({ ...h, label: `A y=${y}+p`, publicKey: leBytes(y + P) });
    cases.push({ ...h, label: `R y=${y}+p`, signature: new Uint8Array([...leBytes(y + P), ...h.signature.subarray(32)]) });
  }
  // 7. R with x = 0 and the sign bit set
  cases.push({ ...honest(1), label: 'R = -0 identity', signature: new Uint8Array([...leBytes(1n + 2n ** 255n), ...new Uint8Array(32)]) });
  return cases;
}

describe('Ed25519 provider agreement (noble vs node:crypto)', () => {
  const cases = buildCases();

  it('gives the same verdict on every case, and the verdicts are not all alike', () => {
    let accepted = 0;
    const disagreements: string[] = [];
    for (const c of cases) {
      const a = nobleProvider.ed25519Verify(c.publicKey, c.message, c.signature);
      const b = nodeProvider.ed25519Verify(c.publicKey, c.message, c.signature);
      if (a !== b) disagreements.push(`${c.label}: noble ${a}, node ${b}`);
      if (a) accepted++;
    }
    expect(disagreements).toEqual([]);
    expect(cases.length).toBeGreaterThan(900);
    expect(accepted).toBeGreaterThanOrEqual(205); // 5 RFC + 200 honest, plus any A + T8 with k = 0 mod 8
    expect(accepted).toBeLessThan(cases.length / 2);
  });

  it('honest signatures verify on both; S + L, torsion in R, small-order A and non-canonical encodings fail on both', () => {
    for (const c of cases) {
      const verdict = nobleProvider.ed25519Verify(c.publicKey, c.message, c.signature);
      if (/^honest \d+$/.test(c.label)) expect(verdict, c.label).toBe(true);
      if (/S\+L|R \+ T8|small-order|y=|R = -0/.test(c.label)) expect(verdict, c.label).toBe(false);
    }
  });

  it('the pre-check is what makes them agree: raw OpenSSL accepts the identity key with the identity signature', () => {
    const identity = SMALL_ORDER_ENCODINGS[0]!;
    const sig = new Uint8Array(64);
    sig[0] = 1;
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(identity).toString('base64url') };
    expect(rawNodeVerify(null, te.encode('anything'), { key: jwk, format: 'jwk' }, sig)).toBe(true);
    expect(ed25519StrictPrecheck(identity, sig)).toBe(false);
    expect(ed25519.verify(sig, te.encode('anything'), identity, { zip215: false })).toBe(false);
  });

  it('every listed small-order encoding decodes to a point of small order', () => {
    for (const e of SMALL_ORDER_ENCODINGS) expect(Point.fromBytes(e).isSmallOrder()).toBe(true);
    // and the 8 torsion points are exactly those, up to encoding
    const T8 = Point.fromBytes(SMALL_ORDER_ENCODINGS[4]!);
    const all = new Set<string>();
    let t = Point.ZERO;
    for (let i = 0; i < 8; i++, t = t.add(T8)) all.add(toHexString(t.toBytes())!);
    expect(all.size).toBe(8);
    for (const h of all) expect(SMALL_ORDER_ENCODINGS.some((e) => toHexString(e) === h)).toBe(true);
  });

  it('a small verify-key cache still gives correct verdicts under eviction', () => {
    const tiny = createNodeProvider({ verifyKeyCacheSize: 2 });
    const none = createNodeProvider({ verifyKeyCacheSize: 0 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 6; i++) {
        const h = honest(i);
        expect(tiny.ed25519Verify(h.publicKey, h.message, h.signature)).toBe(true);
        expect(none.ed25519Verify(h.publicKey, h.message, h.signature)).toBe(true);
        expect(tiny.ed25519Verify(honest(i + 1).publicKey, h.message, h.signature)).toBe(false);
      }
    }
    expect(() => createNodeProvider({ verifyKeyCacheSize: -1 })).toThrow(/createNodeProvider: expected verifyKeyCacheSize/);
  });
});

describe('cross-provider HPKE and signatures', () => {
  const pairs = [
    ['noble', nobleProvider, 'node', nodeProvider],
    ['node', nodeProvider, 'noble', nobleProvider],
  ] as const;

  it.each(pairs)('%s seals, %s opens', (_a, sender, _b, receiver) => {
    for (let i = 0; i < 20; i++) {
      const skR = deriveX25519KeyPair(receiver, detBytes('ikmR', i)).privateKey;
      const pt = detBytes('pt', i).subarray(0, i + 1);
      const info = te.encode(`box ${i}`);
      const { enc, ciphertext } = hpkeSeal(sender, skR.publicKey, info, te.encode('aad'), pt, detBytes('ikmE', i));
      expect(toHexString(hpkeOpen(receiver, skR, enc, info, te.encode('aad'), ciphertext))).toBe(toHexString(pt));
      // and both give byte-identical output for the same ikmE
      const again = hpkeSeal(receiver, skR.publicKey, info, te.encode('aad'), pt, detBytes('ikmE', i));
      expect(toHexString(again.ciphertext)).toBe(toHexString(ciphertext));
    }
  });

  it.each(pairs)('%s signs, %s verifies; same bytes (deterministic Ed25519)', (_a, signer, _b, verifier) => {
    for (let i = 0; i < 20; i++) {
      const s = signer.ed25519Signer(detBytes('seed', i));
      const msg = detBytes('msg', i);
      const sig = s.sign(msg);
      expect(verifier.ed25519Verify(s.publicKey, msg, sig)).toBe(true);
      expect(toHexString(verifier.ed25519Signer(detBytes('seed', i)).sign(msg))).toBe(toHexString(sig));
    }
  });

  it('sha256 and hmacSha256 agree', () => {
    for (let i = 0; i < 50; i++) {
      const data = detBytes('d', i).subarray(0, i % 33);
      const key = detBytes('k', i).subarray(0, (i * 7) % 33);
      expect(toHexString(nodeProvider.sha256(data))).toBe(toHexString(nobleProvider.sha256(data)));
      expect(toHexString(nodeProvider.hmacSha256(key, data))).toBe(toHexString(nobleProvider.hmacSha256(key, data)));
    }
  });
});
