/**
 * HPKE (RFC 9180), base mode only, one suite:
 *   KEM DHKEM(X25519, HKDF-SHA256) = 0x0020, KDF HKDF-SHA256 = 0x0001, AEAD ChaCha20-Poly1305 = 0x0003.
 * Generic over `CryptoProvider`: HKDF is built from `provider.hmacSha256`.
 *
 * The receiver side is the hot path of every scan. Constant label prefixes and psk_id_hash are
 * precomputed once; `prepareBaseReceiver` also precomputes the key-schedule context for a fixed
 * `info`, so one open costs 1 X25519 + 5 HMAC + 1 AEAD open.
 *
 * The one-shot `hpkeSeal`/`hpkeOpen` and `setupBaseReceiver` never throw on hostile input: a bad
 * enc length, an all-zero DH result or a tag failure give null. Programming errors on the sender
 * side (a public key of the wrong length) throw with a message naming the function.
 */
import { concatBytes } from '../encoding/bytes.ts';
import type { CryptoProvider, X25519PrivateKey } from './provider.ts';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

const EMPTY = new Uint8Array(0);
const MODE_BASE = 0x00;
const N_SECRET = 32; // Nsecret = Nh for HKDF-SHA256
const N_KEY = 32;
const N_NONCE = 12;
const N_PK = 32;
/** KEM suite_id = "KEM" || I2OSP(0x0020, 2) */
const KEM_SUITE_ID = concatBytes(ascii('KEM'), Uint8Array.of(0x00, 0x20));
/** HPKE suite_id = "HPKE" || I2OSP(kem, 2) || I2OSP(kdf, 2) || I2OSP(aead, 2) */
const HPKE_SUITE_ID = concatBytes(ascii('HPKE'), Uint8Array.of(0x00, 0x20, 0x00, 0x01, 0x00, 0x03));
const HPKE_V1 = ascii('HPKE-v1');

/** "HPKE-v1" || suite_id || label, built once per label. */
const labelPrefix = (suiteId: Uint8Array, label: string): Uint8Array => concatBytes(HPKE_V1, suiteId, ascii(label));
const L_EAE_PRK = labelPrefix(KEM_SUITE_ID, 'eae_prk');
const L_SHARED_SECRET = labelPrefix(KEM_SUITE_ID, 'shared_secret');
const L_DKP_PRK = labelPrefix(KEM_SUITE_ID, 'dkp_prk');
const L_SK = labelPrefix(KEM_SUITE_ID, 'sk');
const L_INFO_HASH = labelPrefix(HPKE_SUITE_ID, 'info_hash');
const L_SECRET = labelPrefix(HPKE_SUITE_ID, 'secret');
const L_KEY = labelPrefix(HPKE_SUITE_ID, 'key');
const L_BASE_NONCE = labelPrefix(HPKE_SUITE_ID, 'base_nonce');
const L_EXP = labelPrefix(HPKE_SUITE_ID, 'exp');
const L_SEC = labelPrefix(HPKE_SUITE_ID, 'sec');

/**
 * psk_id_hash = LabeledExtract("", "psk_id_hash", "") is a constant of the suite (base mode has an
 * empty psk_id). Value checked against the recomputation in test/unit/vectors-hpke.test.ts.
 */
export const BASE_PSK_ID_HASH = Uint8Array.from([
  0x43, 0x1d, 0xf6, 0xcd, 0x95, 0xe1, 0x1f, 0xf4, 0x9d, 0x70, 0x13, 0x56, 0x3b, 0xaf, 0x7f, 0x11,
  0x58, 0x8c, 0x75, 0xa6, 0x61, 0x1e, 0xe2, 0xa4, 0x40, 0x4a, 0x49, 0x30, 0x6a, 0xe4, 0xcf, 0xc5,
]);

/** LabeledExtract(salt, label, ikm) = HKDF-Extract(salt, prefix || ikm). An empty salt is HashLen zeros for HMAC, same thing. */
function labeledExtract(p: CryptoProvider, salt: Uint8Array, prefix: Uint8Array, ikm: Uint8Array): Uint8Array {
  return p.hmacSha256(salt, ikm.length === 0 ? prefix : concatBytes(prefix, ikm));
}

/** LabeledExpand(prk, label, info, L) = HKDF-Expand(prk, I2OSP(L, 2) || prefix || info, L). */
function labeledExpand(p: CryptoProvider, prk: Uint8Array, prefix: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) {
    throw new Error(`hpke.labeledExpand: expected length 0..8160, got ${String(length)}`);
  }
  // T(i) = HMAC(prk, T(i-1) || labeledInfo || i); the buffer keeps a 32-byte slot for T(i-1).
  const infoLen = 2 + prefix.length + info.length;
  const block = new Uint8Array(32 + infoLen + 1);
  block[32] = length >> 8;
  block[33] = length & 0xff;
  block.set(prefix, 34);
  block.set(info, 34 + prefix.length);
  if (length <= 32) {
    block[block.length - 1] = 1;
    const t = p.hmacSha256(prk, block.subarray(32));
    return length === 32 ? t : t.slice(0, length);
  }
  const out = new Uint8Array(length);
  let input = block.subarray(32); // T(0) is empty
  for (let i = 1, o = 0; o < length; i++, o += 32) {
    block[block.length - 1] = i;
    const t = p.hmacSha256(prk, input);
    out.set(t.subarray(0, Math.min(32, length - o)), o);
    block.set(t, 0);
    input = block;
  }
  return out;
}

/** ExtractAndExpand(dh, kem_context) of DHKEM. */
function kemSharedSecret(p: CryptoProvider, dh: Uint8Array, enc: Uint8Array, pkR: Uint8Array): Uint8Array {
  const eaePrk = labeledExtract(p, EMPTY, L_EAE_PRK, dh);
  return labeledExpand(p, eaePrk, L_SHARED_SECRET, concatBytes(enc, pkR), N_SECRET);
}

/** key_schedule_context = mode || psk_id_hash || info_hash (base mode). */
function keyScheduleContext(p: CryptoProvider, info: Uint8Array): Uint8Array {
  const infoHash = labeledExtract(p, EMPTY, L_INFO_HASH, info);
  return concatBytes(Uint8Array.of(MODE_BASE), BASE_PSK_ID_HASH, infoHash);
}

export interface HpkeKeySchedule {
  readonly sharedSecret: Uint8Array;
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
}

/** An HPKE context (RFC 9180 section 5.2). Seal and open advance their own sequence number. */
export interface HpkeContext {
  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** null on tag failure; a failed open does not advance the sequence number. */
  open(aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
  export(exporterContext: Uint8Array, length: number): Uint8Array;
  /** For vector tests and diagnostics: the schedule values. Never log these. */
  readonly schedule: HpkeKeySchedule & { readonly exporterSecret: Uint8Array };
}

/** nonce = base_nonce XOR I2OSP(seq, 12). seq stays below 2^53, far from the 2^96 limit. */
function nonceFor(baseNonce: Uint8Array, seq: number): Uint8Array {
  const nonce = baseNonce.slice();
  let v = seq;
  for (let i = N_NONCE - 1; i >= 0 && v > 0; i--) {
    nonce[i]! ^= v % 256;
    v = Math.floor(v / 256);
  }
  return nonce;
}

function createContext(p: CryptoProvider, sharedSecret: Uint8Array, context: Uint8Array): HpkeContext {
  const secret = labeledExtract(p, sharedSecret, L_SECRET, EMPTY);
  const key = labeledExpand(p, secret, L_KEY, context, N_KEY);
  const baseNonce = labeledExpand(p, secret, L_BASE_NONCE, context, N_NONCE);
  const exporterSecret = labeledExpand(p, secret, L_EXP, context, N_SECRET);
  let sealSeq = 0;
  let openSeq = 0;
  return {
    schedule: { sharedSecret, key, baseNonce, exporterSecret },
    seal(aad, plaintext) {
      if (!Number.isSafeInteger(sealSeq + 1)) throw new Error('hpke.seal: message limit reached');
      const ct = p.aeadSeal(key, nonceFor(baseNonce, sealSeq), aad, plaintext);
      sealSeq++;
      return ct;
    },
    open(aad, ciphertext) {
      if (!Number.isSafeInteger(openSeq + 1)) return null;
      const pt = p.aeadOpen(key, nonceFor(baseNonce, openSeq), aad, ciphertext);
      if (pt !== null) openSeq++;
      return pt;
    },
    export(exporterContext, length) {
      return labeledExpand(p, exporterSecret, L_SEC, exporterContext, length);
    },
  };
}

/** DeriveKeyPair(ikm) for X25519 (RFC 9180 section 7.1.3): the secret scalar and the provider key. */
export function deriveX25519KeyPair(p: CryptoProvider, ikm: Uint8Array): { secret: Uint8Array; privateKey: X25519PrivateKey } {
  const dkpPrk = labeledExtract(p, EMPTY, L_DKP_PRK, ikm);
  const secret = labeledExpand(p, dkpPrk, L_SK, EMPTY, 32);
  return { secret, privateKey: p.x25519PrivateKey(secret) };
}

/**
 * SetupBaseS. `ikmE` makes the ephemeral key deterministic (test vectors only); without it a fresh
 * random one is used. Throws when pkR is not 32 bytes or is a low-order point (caller error).
 */
export function setupBaseSender(
  p: CryptoProvider,
  pkR: Uint8Array,
  info: Uint8Array,
  ikmE?: Uint8Array,
): { enc: Uint8Array; context: HpkeContext } {
  if (!(pkR instanceof Uint8Array) || pkR.length !== N_PK) {
    throw new Error(`hpke.setupBaseSender: expected pkR of 32 bytes, got ${pkR instanceof Uint8Array ? `Uint8Array(${pkR.length})` : typeof pkR}`);
  }
  const ephemeral = deriveX25519KeyPair(p, ikmE ?? p.randomBytes(32)).privateKey;
  const dh = ephemeral.dh(pkR);
  if (dh === null) throw new Error('hpke.setupBaseSender: pkR gives an all-zero DH result (low-order point)');
  const enc = ephemeral.publicKey;
  const sharedSecret = kemSharedSecret(p, dh, enc, pkR);
  return { enc, context: createContext(p, sharedSecret, keyScheduleContext(p, info)) };
}

/** SetupBaseR. null when enc is not 32 bytes or the DH result is all zeros. Never throws. */
export function setupBaseReceiver(p: CryptoProvider, skR: X25519PrivateKey, enc: Uint8Array, info: Uint8Array): HpkeContext | null {
  if (!(enc instanceof Uint8Array) || enc.length !== N_PK || !(info instanceof Uint8Array)) return null;
  const dh = skR.dh(enc);
  if (dh === null) return null;
  return createContext(p, kemSharedSecret(p, dh, enc, skR.publicKey), keyScheduleContext(p, info));
}

/** Single-shot seal (sequence number 0). */
export function hpkeSeal(
  p: CryptoProvider,
  pkR: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  ikmE?: Uint8Array,
): { enc: Uint8Array; ciphertext: Uint8Array } {
  const { enc, context } = setupBaseSender(p, pkR, info, ikmE);
  return { enc, ciphertext: context.seal(aad, plaintext) };
}

/** A receiver with everything that depends only on (skR, info) precomputed: the scan hot path. */
export interface HpkeBaseReceiver {
  /** Single-shot open (sequence number 0). null on any failure. Never throws. */
  open(enc: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
}

export function prepareBaseReceiver(p: CryptoProvider, skR: X25519PrivateKey, info: Uint8Array): HpkeBaseReceiver {
  const context = keyScheduleContext(p, info);
  // kem_context = enc || pkR: keep pkR in place and write enc in front for each open.
  const kemContext = new Uint8Array(2 * N_PK);
  kemContext.set(skR.publicKey, N_PK);
  return {
    open(enc, aad, ciphertext) {
      if (!(enc instanceof Uint8Array) || enc.length !== N_PK) return null;
      if (!(aad instanceof Uint8Array) || !(ciphertext instanceof Uint8Array)) return null;
      const dh = skR.dh(enc);
      if (dh === null) return null;
      const eaePrk = labeledExtract(p, EMPTY, L_EAE_PRK, dh);
      kemContext.set(enc, 0);
      const sharedSecret = labeledExpand(p, eaePrk, L_SHARED_SECRET, kemContext, N_SECRET);
      const secret = labeledExtract(p, sharedSecret, L_SECRET, EMPTY);
      const key = labeledExpand(p, secret, L_KEY, context, N_KEY);
      const baseNonce = labeledExpand(p, secret, L_BASE_NONCE, context, N_NONCE);
      return p.aeadOpen(key, baseNonce, aad, ciphertext);
    },
  };
}

/** Single-shot open (sequence number 0). null on bad enc length, all-zero DH or tag failure. Never throws. */
export function hpkeOpen(
  p: CryptoProvider,
  skR: X25519PrivateKey,
  enc: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | null {
  if (!(info instanceof Uint8Array)) return null;
  return prepareBaseReceiver(p, skR, info).open(enc, aad, ciphertext);
}
