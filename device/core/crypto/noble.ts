/**
 * The portable reference provider: pure JS on @noble (no node: imports), used by the wallet
 * library and as the oracle the node:crypto provider is checked against.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { ed25519StrictPrecheck } from './ed25519-strict.ts';
import type { CryptoProvider, Ed25519Signer, X25519PrivateKey } from './provider.ts';
import { expectBytes, isAllZero } from '../encoding/bytes.ts';

const Point = ed25519.Point;
const GROUP_ORDER = Point.Fn.ORDER;

function nobleX25519PrivateKey(secret: Uint8Array): X25519PrivateKey {
  expectBytes('nobleProvider.x25519PrivateKey', 'secret', secret, 32);
  const scalar = secret.slice(); // own copy: the caller may wipe or reuse its buffer
  const publicKey = x25519.getPublicKey(scalar);
  return {
    publicKey,
    dh(peerPublic: Uint8Array): Uint8Array | null {
      if (!(peerPublic instanceof Uint8Array) || peerPublic.length !== 32) return null;
      try {
        // noble rejects the 5 low-order u values (mod p) before the ladder; those are exactly the
        // inputs whose result would be all zeros for a clamped scalar.
        const shared = x25519.getSharedSecret(scalar, peerPublic);
        return isAllZero(shared) ? null : shared;
      } catch {
        return null;
      }
    },
  };
}

function nobleEd25519Signer(seed: Uint8Array): Ed25519Signer {
  expectBytes('nobleProvider.ed25519Signer', 'seed', seed, 32);
  const secret = seed.slice();
  return {
    publicKey: ed25519.getPublicKey(secret),
    sign: (message: Uint8Array) => ed25519.sign(message, secret),
  };
}

/**
 * Strict RFC 8032 verification, the rule documented in `ed25519-strict.ts`: shared pre-checks,
 * strict decoding of A (zip215 = false), then the cofactorless equation encode([S]B - [k]A) == R,
 * which is what OpenSSL checks. noble's own `ed25519.verify` uses the cofactored equation and would
 * accept signatures with a torsion component in R that OpenSSL refuses.
 */
function nobleEd25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!ed25519StrictPrecheck(publicKey, signature)) return false;
  if (!(message instanceof Uint8Array)) return false;
  try {
    const A = Point.fromBytes(publicKey, false);
    const r = signature.subarray(0, 32);
    const s = bytesToNumberLE(signature.subarray(32, 64)); // < L by the pre-check
    const h = sha512.create().update(r).update(publicKey).update(message).digest();
    const k = bytesToNumberLE(h) % GROUP_ORDER;
    const rCheck = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k)).toBytes();
    let d = 0;
    for (let i = 0; i < 32; i++) d |= rCheck[i]! ^ r[i]!;
    return d === 0;
  } catch {
    return false;
  }
}

function nobleAeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  if (!(key instanceof Uint8Array) || key.length !== 32) return null;
  if (!(nonce instanceof Uint8Array) || nonce.length !== 12) return null;
  if (!(sealed instanceof Uint8Array) || sealed.length < 16 || !(aad instanceof Uint8Array)) return null;
  try {
    return chacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}

export const nobleProvider: CryptoProvider = {
  name: 'noble',
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  x25519PrivateKey: nobleX25519PrivateKey,
  ed25519Signer: nobleEd25519Signer,
  ed25519Verify: nobleEd25519Verify,
  aeadSeal(key, nonce, aad, plaintext) {
    expectBytes('nobleProvider.aeadSeal', 'key', key, 32);
    expectBytes('nobleProvider.aeadSeal', 'nonce', nonce, 12);
    return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
  },
  aeadOpen: nobleAeadOpen,
  randomBytes: (length) => randomBytes(length),
};
