/** RFC 8032 section 7.1 Ed25519 vectors, sign and verify, on both providers. */
import { describe, expect, it } from 'vitest';
import { allProviders, hex, loadVectors, toHexString } from '../support/vectors.ts';

interface Ed25519Vector {
  name: string;
  secret_key: string;
  public_key: string;
  message: string;
  signature: string;
}

const vectors = loadVectors<{ vectors: Ed25519Vector[] }>('rfc8032_ed25519.json').vectors;

describe.each(allProviders())('Ed25519 RFC 8032 vectors (%s)', (_name, p) => {
  it('has the RFC vectors', () => {
    expect(vectors.length).toBe(5);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: public key, signature and verify', (_n, v) => {
    const signer = p.ed25519Signer(hex(v.secret_key));
    expect(toHexString(signer.publicKey)).toBe(v.public_key);
    expect(toHexString(signer.sign(hex(v.message)))).toBe(v.signature);
    expect(p.ed25519Verify(hex(v.public_key), hex(v.message), hex(v.signature))).toBe(true);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: a changed message, key or signature does not verify', (_n, v) => {
    const msg = hex(v.message);
    const other = msg.length === 0 ? Uint8Array.of(0) : msg.slice(0, -1);
    expect(p.ed25519Verify(hex(v.public_key), other, hex(v.signature))).toBe(false);
    const sig = hex(v.signature);
    sig[10]! ^= 0x01;
    expect(p.ed25519Verify(hex(v.public_key), msg, sig)).toBe(false);
    const pk = hex(v.public_key);
    pk[0]! ^= 0x01;
    expect(p.ed25519Verify(pk, msg, hex(v.signature))).toBe(false);
  });

  it('malformed lengths are false, never a throw', () => {
    const v = vectors[0]!;
    expect(p.ed25519Verify(hex(v.public_key).subarray(0, 31), hex(v.message), hex(v.signature))).toBe(false);
    expect(p.ed25519Verify(hex(v.public_key), hex(v.message), hex(v.signature).subarray(0, 63))).toBe(false);
    expect(p.ed25519Verify(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0))).toBe(false);
    expect(p.ed25519Verify(null as unknown as Uint8Array, hex(v.message), hex(v.signature))).toBe(false);
  });

  it('signer refuses a seed of the wrong length with a message naming the function', () => {
    expect(() => p.ed25519Signer(new Uint8Array(31))).toThrow(/ed25519Signer: expected seed of 32 bytes/);
  });
});
