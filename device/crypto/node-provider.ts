/**
 * The box's provider: node:crypto (OpenSSL). Same contract and same verdicts as `nobleProvider`
 * (checked by test/unit/provider-agreement.test.ts), several times faster.
 *
 * Raw keys are imported as JWK: about 15 us per import against about 175 us for DER/SPKI.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { ed25519StrictPrecheck } from '../core/crypto/ed25519-strict.ts';
import type { CryptoProvider, Ed25519Signer, X25519PrivateKey } from '../core/crypto/provider.ts';
import { expectBytes, isAllZero } from '../core/encoding/bytes.ts';

export interface NodeProviderOptions {
  /** How many Ed25519 public KeyObjects to keep (LRU). Bounded so hostile keys cannot grow memory. Default 64. */
  verifyKeyCacheSize?: number;
}

/** A view on the same memory: no copy. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A plain Uint8Array view of a Buffer result, so callers never depend on Buffer methods. */
function asBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** PKCS#8 prefixes for a raw 32-byte private key (RFC 8410); only used at key creation, not per scan. */
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

function importPrivate(prefix: Buffer, raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([prefix, asBuffer(raw)]), format: 'der', type: 'pkcs8' });
}

function rawPublicOf(key: KeyObject): Uint8Array {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return asBytes(Buffer.from(jwk.x ?? '', 'base64url'));
}

function importX25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: asBuffer(raw).toString('base64url') }, format: 'jwk' });
}

function nodeX25519PrivateKey(secret: Uint8Array): X25519PrivateKey {
  expectBytes('nodeProvider.x25519PrivateKey', 'secret', secret, 32);
  const privateKey = importPrivate(PKCS8_X25519, secret); // OpenSSL clamps as RFC 7748 says
  const publicKey = rawPublicOf(privateKey);
  return {
    publicKey,
    dh(peerPublic: Uint8Array): Uint8Array | null {
      if (!(peerPublic instanceof Uint8Array) || peerPublic.length !== 32) return null;
      try {
        const shared = asBytes(diffieHellman({ privateKey, publicKey: importX25519Public(peerPublic) }));
        return isAllZero(shared) ? null : shared;
      } catch {
        return null; // OpenSSL refuses an all-zero result itself
      }
    },
  };
}

function nodeEd25519Signer(seed: Uint8Array): Ed25519Signer {
  expectBytes('nodeProvider.ed25519Signer', 'seed', seed, 32);
  const privateKey = importPrivate(PKCS8_ED25519, seed);
  return {
    publicKey: rawPublicOf(privateKey),
    // A null algorithm is pure Ed25519 (no prehash, no context).
    sign: (message: Uint8Array) => asBytes(nodeSign(null, message, privateKey)),
  };
}

export function createNodeProvider(options: NodeProviderOptions = {}): CryptoProvider {
  const cacheSize = options.verifyKeyCacheSize ?? 64;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new Error(`createNodeProvider: expected verifyKeyCacheSize integer >= 0, got ${String(cacheSize)}`);
  }
  // INVARIANT: at most `cacheSize` entries; Map iteration order is insertion order, and a hit is
  // re-inserted, so the first key is always the least recently used one.
  const verifyKeys = new Map<string, KeyObject>();

  function ed25519PublicKey(publicKey: Uint8Array): KeyObject {
    const x = asBuffer(publicKey).toString('base64url');
    const hit = verifyKeys.get(x);
    if (hit !== undefined) {
      verifyKeys.delete(x);
      verifyKeys.set(x, hit);
      return hit;
    }
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    if (cacheSize > 0) {
      if (verifyKeys.size >= cacheSize) {
        const oldest = verifyKeys.keys().next().value;
        if (oldest !== undefined) verifyKeys.delete(oldest);
      }
      verifyKeys.set(x, key);
    }
    return key;
  }

  return {
    name: 'node',
    sha256: (data) => asBytes(createHash('sha256').update(data).digest()),
    hmacSha256: (key, data) => asBytes(createHmac('sha256', key).update(data).digest()),
    x25519PrivateKey: nodeX25519PrivateKey,
    ed25519Signer: nodeEd25519Signer,
    ed25519Verify(publicKey, message, signature) {
      if (!ed25519StrictPrecheck(publicKey, signature)) return false;
      if (!(message instanceof Uint8Array)) return false;
      try {
        return nodeVerify(null, message, ed25519PublicKey(publicKey), signature);
      } catch {
        return false;
      }
    },
    aeadSeal(key, nonce, aad, plaintext) {
      expectBytes('nodeProvider.aeadSeal', 'key', key, 32);
      expectBytes('nodeProvider.aeadSeal', 'nonce', nonce, 12);
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.setAAD(aad, { plaintextLength: plaintext.length });
      const body = c.update(plaintext);
      c.final();
      const out = new Uint8Array(body.length + 16);
      out.set(body, 0);
      out.set(c.getAuthTag(), body.length);
      return out;
    },
    aeadOpen(key, nonce, aad, sealed) {
      if (!(key instanceof Uint8Array) || key.length !== 32) return null;
      if (!(nonce instanceof Uint8Array) || nonce.length !== 12) return null;
      if (!(sealed instanceof Uint8Array) || sealed.length < 16 || !(aad instanceof Uint8Array)) return null;
      try {
        const ctLength = sealed.length - 16;
        const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
        d.setAAD(aad, { plaintextLength: ctLength });
        d.setAuthTag(sealed.subarray(ctLength));
        const body = d.update(sealed.subarray(0, ctLength));
        d.final(); // throws when the tag does not match
        return asBytes(body);
      } catch {
        return null;
      }
    },
    randomBytes: (length) => asBytes(randomBytes(length)),
  };
}
