/**
 * Hostile inputs and hand-crafted payment codes for the decision tests.
 *
 * - `hostileStrings` / `hostileBytes`: the table every public decoder runs against (empty, one
 *   byte, 64 KiB, truncations at every length, bit flips, characters outside the alphabet, wrong
 *   versions, lowercase, unicode, NUL bytes, very long numbers).
 * - `craftCode` / `sealPlaintext`: build envelopes the reference wallet refuses to build (wrong
 *   signer, unknown card serial, flow mismatches, garbage plaintext), with the same primitives.
 */
import { setupBaseSender } from '../../device/core/crypto/hpke.ts';
import type { CryptoProvider, Ed25519Signer } from '../../device/core/crypto/provider.ts';
import { base45Decode, base45Encode } from '../../device/core/encoding/base45.ts';
import { type AuthorizationBody, encodeAuthorization, paymentSignedContent } from '../../device/core/protocol/authorization.ts';
import { ENVELOPE_PREFIX } from '../../device/core/protocol/constants.ts';
import { buildHeader, envelopeInfo, envelopeText } from '../../device/core/protocol/envelope.ts';
import { keyId } from '../../device/core/protocol/labels.ts';

/** The binary envelope (version || suite || keyId || enc || ciphertext) of a code's text. */
export function envelopeBytes(text: string): Uint8Array {
  if (!text.startsWith(ENVELOPE_PREFIX)) throw new Error(`envelopeBytes: no ${ENVELOPE_PREFIX} prefix in ${JSON.stringify(text.slice(0, 8))}`);
  const b = base45Decode(text.slice(ENVELOPE_PREFIX.length));
  if (!b) throw new Error('envelopeBytes: invalid Base45');
  return b;
}

/** Text form of binary envelope bytes. */
export function envelopeFromBytes(bytes: Uint8Array): string {
  return ENVELOPE_PREFIX + base45Encode(bytes);
}

export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** Encrypts arbitrary plaintext to `recipientPublicKey` under key id `kid` (default: its real key id). */
export function sealPlaintext(p: CryptoProvider, recipientPublicKey: Uint8Array, plaintext: Uint8Array, kid?: Uint8Array): string {
  const id = kid ?? keyId(p, recipientPublicKey);
  const { enc, context } = setupBaseSender(p, recipientPublicKey, envelopeInfo(id));
  const header = buildHeader(id, enc);
  return envelopeText(header, context.seal(header, plaintext));
}

export interface CraftOptions {
  /** Where the code is encrypted to: a merchant key or an NFC session key. */
  recipientPublicKey: Uint8Array;
  /** Key id written into the header; defaults to the recipient's real key id. */
  kid?: Uint8Array;
  body: AuthorizationBody;
  /** Who signs the payment content (need not be the credential's wallet key). */
  signer: Ed25519Signer;
  /** Hash of the card the signature binds to. */
  cardHash: Uint8Array;
  /** The session key the signature binds to (nfc flow). */
  signedSessionPublicKey?: Uint8Array;
  /** Replace the body after signing (e.g. change the amount under the signature). */
  tamper?: (body: AuthorizationBody) => AuthorizationBody;
}

/** Builds a code the way the wallet does, but with every field under the caller's control. */
export function craftCode(p: CryptoProvider, o: CraftOptions): string {
  const id = o.kid ?? keyId(p, o.recipientPublicKey);
  const { enc, context } = setupBaseSender(p, o.recipientPublicKey, envelopeInfo(id));
  const header = buildHeader(id, enc);
  const signature = o.signer.sign(paymentSignedContent(p, o.body, o.cardHash, header, o.signedSessionPublicKey));
  const sent = o.tamper ? o.tamper(o.body) : o.body;
  return envelopeText(header, context.seal(header, encodeAuthorization(sent, signature)));
}

/** 64 KiB of a repeated character. */
const big = (c: string): string => c.repeat(64 * 1024);

/** Every prefix of `s` shorter than `s` (lengths 0 .. n-1). */
export function truncationsOf(s: string): string[] {
  return Array.from({ length: s.length }, (_, n) => s.slice(0, n));
}

export function byteTruncationsOf(b: Uint8Array): Uint8Array[] {
  return Array.from({ length: b.length }, (_, n) => b.slice(0, n));
}

/** `count` evenly spread single-bit flips of `b`. */
export function sampleBitFlips(b: Uint8Array, count: number): Uint8Array[] {
  const bits = b.length * 8;
  const step = Math.max(1, Math.floor(bits / count));
  const out: Uint8Array[] = [];
  for (let bit = 0; bit < bits && out.length < count; bit += step) out.push(flipBit(b, bit));
  return out;
}

/**
 * Hostile text inputs derived from a valid text item `valid` with a two- or three-character
 * prefix (e.g. "QP:" or "QC:"). Each entry is [name, input].
 */
export function hostileStrings(valid: string, prefix: string): Array<[string, string]> {
  const body = valid.slice(prefix.length);
  const rows: Array<[string, string]> = [
    ['empty', ''],
    ['one char', 'Q'],
    ['prefix only', prefix],
    ['prefix + one char', `${prefix}0`],
    ['64 KiB of base45', prefix + big('0')],
    ['64 KiB of NUL', big('\u0000')],
    ['64 KiB of unicode', big('é')],
    ['lowercase prefix', prefix.toLowerCase() + body],
    ['lowercase body', prefix + body.toLowerCase()],
    ['whole text lowercase', valid.toLowerCase()],
    ['leading space', ` ${valid}`],
    ['trailing newline', `${valid}\n`],
    ['trailing NUL', `${valid}\u0000`],
    ['NUL in the middle', prefix + body.slice(0, 30) + '\u0000' + body.slice(31)],
    ['unicode in the middle', prefix + body.slice(0, 30) + 'Ä' + body.slice(31)],
    ['emoji', prefix + body.slice(0, 30) + '\u{1F4B3}' + body.slice(32)],
    ['lone surrogate', prefix + body.slice(0, 30) + '\ud800' + body.slice(31)],
    ['char outside alphabet (#)', prefix + body.slice(0, 30) + '#' + body.slice(31)],
    ['char outside alphabet (=)', prefix + body.slice(0, 30) + '=' + body.slice(31)],
    ['fullwidth digit', prefix + body.slice(0, 30) + '０' + body.slice(31)],
    ['group above 65535 (":::")', prefix + ':::' + body.slice(3)],
    ['final pair above 255 ("::")', prefix + body.slice(0, body.length - (body.length % 3 || 3)) + '::'],
    ['length 3k+1', prefix + body + '0'],
    ['very long number', prefix + '9'.repeat(999)],
    ['huge decimal', '1'.repeat(5000)],
    ['prefix twice', prefix + valid],
    ['other prefix', (prefix === 'QP:' ? 'QC:' : 'QP:') + body],
    ['URL form', `https://example.invalid/${valid}`],
    ['JSON', JSON.stringify({ text: valid })],
  ];
  for (const t of truncationsOf(valid)) rows.push([`truncated to ${t.length}`, t]);
  return rows;
}

/** Hostile binary inputs derived from a valid binary item. */
export function hostileBytes(valid: Uint8Array, flips = 64): Array<[string, Uint8Array]> {
  const rows: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['one byte 0x00', Uint8Array.of(0)],
    ['one byte 0xff', Uint8Array.of(0xff)],
    ['64 KiB of zeros', new Uint8Array(64 * 1024)],
    ['64 KiB of 0xff', new Uint8Array(64 * 1024).fill(0xff)],
    ['valid + trailing byte', Uint8Array.from([...valid, 0])],
    ['valid twice', Uint8Array.from([...valid, ...valid])],
    ['wrong version byte', (() => {
      const b = valid.slice();
      b[2] = (b[2]! + 1) & 0xff;
      return b;
    })()],
    ['version 0', (() => {
      const b = valid.slice();
      b[2] = 0;
      return b;
    })()],
    ['first byte flipped', flipBit(valid, 0)],
    ['all 0xff same length', new Uint8Array(valid.length).fill(0xff)],
    ['all zeros same length', new Uint8Array(valid.length)],
  ];
  for (const t of byteTruncationsOf(valid)) rows.push([`truncated to ${t.length}`, t]);
  for (const [i, f] of sampleBitFlips(valid, flips).entries()) rows.push([`bit flip #${i}`, f]);
  return rows;
}
