/**
 * Shared Ed25519 pre-checks, run by EVERY provider before its library sees the input.
 *
 * THE RULE (both providers, so the box and the acquirer always reach the same verdict):
 *   strict RFC 8032 + reject small-order A, with the cofactorless equation.
 *   - signature is 64 bytes, public key is 32 bytes;
 *   - S < L (canonical scalar, RFC 8032 section 5.1.7);
 *   - A and R are canonical encodings: y < p, and no "negative zero" x (sign bit set with x = 0,
 *     i.e. y = 1 or y = p - 1);
 *   - A is not one of the 8 small-order points;
 *   - then encode([S]B - [k]A) must equal the R bytes (cofactorless, the check OpenSSL does;
 *     noble's built-in verify is cofactored, so `noble.ts` computes this equation itself).
 * A signature made by an honest RFC 8032 signer passes every provider; a crafted one with a
 * torsion component in R or A fails every provider.
 *
 * Pure and constant-shape; operates on bytes only (no bigint, no point decoding) so it costs
 * well under a microsecond on the hot path.
 */

/** L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const GROUP_ORDER_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

function hex32(h: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Canonical encodings (y < p) of the 8 points of order 1, 2, 4 and 8, with both sign bits where
 * x != 0. Non-canonical encodings of the same points (y >= p, or sign bit with x = 0) are already
 * refused by `isCanonicalPointEncoding`. Same set as libsodium's blocklist, canonical part.
 */
export const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity, order 1
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = -1, order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // y = 0, order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // y = 0, order 4, -x
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8, -x
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8, -x
].map(hex32);

/** True when the 32-byte little-endian scalar is < L. */
export function isCanonicalScalar(s: Uint8Array, offset = 0): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = s[offset + i]!;
    const b = GROUP_ORDER_LE[i]!;
    if (a < b) return true;
    if (a > b) return false;
  }
  return false; // equal to L
}

/**
 * True when the 32 bytes at `offset` are a canonical point encoding: y < p = 2^255 - 19, and the
 * sign bit is not set when x must be 0 (y = 1 or y = p - 1). Does not check that y is on the curve.
 */
export function isCanonicalPointEncoding(b: Uint8Array, offset = 0): boolean {
  const top = b[offset + 31]! & 0x7f;
  const sign = b[offset + 31]! & 0x80;
  let midAllFf = top === 0x7f;
  let midAllZero = top === 0;
  for (let i = 1; i < 31; i++) {
    const v = b[offset + i]!;
    if (v !== 0xff) midAllFf = false;
    if (v !== 0) midAllZero = false;
  }
  const low = b[offset]!;
  if (midAllFf) {
    if (low >= 0xed) return false; // y >= p
    if (low === 0xec && sign !== 0) return false; // y = p - 1 has x = 0
  }
  if (midAllZero && low === 1 && sign !== 0) return false; // y = 1 has x = 0
  return true;
}

function equals32(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when the public key encodes one of the 8 small-order points (canonical encodings only). */
export function isSmallOrderEncoding(publicKey: Uint8Array): boolean {
  for (const e of SMALL_ORDER_ENCODINGS) if (equals32(publicKey, e)) return true;
  return false;
}

/**
 * Every provider calls this first and returns false when it does. Never throws.
 * `false` means the input can never verify under the shared rule above.
 */
export function ed25519StrictPrecheck(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!isCanonicalScalar(signature, 32)) return false;
  if (!isCanonicalPointEncoding(signature, 0)) return false;
  if (!isCanonicalPointEncoding(publicKey, 0)) return false;
  if (isSmallOrderEncoding(publicKey)) return false;
  return true;
}
