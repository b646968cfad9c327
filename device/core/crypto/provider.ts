/**
 * The crypto provider: the only place the core gets primitives from.
 *
 * Two implementations pass the same official vectors:
 * - `nobleProvider` (pure JS, @noble): the portable reference, used by the wallet library.
 * - `nodeProvider` (node:crypto / OpenSSL): used by the box, much faster.
 *
 * Every Ed25519 verification follows strict RFC 8032 (noble with `zip215: false`), and
 * the shared pre-checks in `ed25519-strict.ts` run before either library sees the input,
 * so the box and the acquirer always reach the same verdict.
 */

/** An X25519 private key held by the provider (for node:crypto, a cached KeyObject). */
export interface X25519PrivateKey {
  readonly publicKey: Uint8Array;
  /** Raw X25519. Returns null when the result is all zeros (RFC 9180 section 7.1.4) or the peer key is not 32 bytes. */
  dh(peerPublic: Uint8Array): Uint8Array | null;
}

/** An Ed25519 signing key held by the provider. Never exposes the seed. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export interface CryptoProvider {
  readonly name: string;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** X25519 key from a 32-byte secret scalar (clamped as RFC 7748 says). */
  x25519PrivateKey(secret: Uint8Array): X25519PrivateKey;
  /** Ed25519 signer from a 32-byte seed (RFC 8032 secret key). */
  ed25519Signer(seed: Uint8Array): Ed25519Signer;
  /** Strict RFC 8032 verification. Never throws: malformed input is `false`. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** ChaCha20-Poly1305 (RFC 8439). `sealed` = ciphertext || 16-byte tag. */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Returns null on any authentication failure or bad length. Never throws. */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
  randomBytes(length: number): Uint8Array;
}
