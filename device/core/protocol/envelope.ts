/**
 * Envelope (docs/protocol.md section 6):
 *   text   = "QP:" || Base45(version || suite || keyId(8) || enc(32) || ciphertext)
 *   header = ASCII("QP:") || version || suite || keyId || enc        (the HPKE AAD, 45 bytes)
 *   info   = ASCII("qrpay/v1/envelope") || 0x00 || version || suite || keyId
 */
import { base45Decode, base45Encode } from '../encoding/base45.ts';
import { concatBytes } from '../encoding/bytes.ts';
import { ENVELOPE_PREFIX, KEY_ID_LENGTH, LABEL, MAX_ENVELOPE_TEXT, PROTOCOL_VERSION, SUITE_X25519_CHACHA } from './constants.ts';
import { labelPrefix } from './labels.ts';

export const ENC_LENGTH = 32;
export const TAG_LENGTH = 16;
const PREFIX_BYTES = Uint8Array.from(ENVELOPE_PREFIX, (c) => c.charCodeAt(0));
const BIN_HEADER = 2 + KEY_ID_LENGTH + ENC_LENGTH;
export const HEADER_LENGTH = PREFIX_BYTES.length + BIN_HEADER;

export interface Envelope {
  version: number;
  suite: number;
  keyId: Uint8Array;
  enc: Uint8Array;
  /** The AAD and the "header" the wallet signs: prefix bytes + binary header. */
  header: Uint8Array;
  ciphertext: Uint8Array;
}

export type EnvelopeParse =
  | { ok: true; envelope: Envelope }
  | { ok: false; code: 'MALFORMED' | 'UNSUPPORTED_VERSION'; detail: string };

/** Parses envelope text. Never throws; checks structure only. */
export function parseEnvelope(text: string): EnvelopeParse {
  if (typeof text !== 'string') return { ok: false, code: 'MALFORMED', detail: 'not a string' };
  if (text.length > MAX_ENVELOPE_TEXT) return { ok: false, code: 'MALFORMED', detail: `text too long (${text.length})` };
  if (!text.startsWith(ENVELOPE_PREFIX)) return { ok: false, code: 'MALFORMED', detail: 'missing QP: prefix' };
  const bin = base45Decode(text.slice(ENVELOPE_PREFIX.length));
  if (!bin) return { ok: false, code: 'MALFORMED', detail: 'invalid Base45' };
  if (bin.length < 2) return { ok: false, code: 'MALFORMED', detail: 'too short' };
  const version = bin[0]!;
  const suite = bin[1]!;
  if (version !== PROTOCOL_VERSION) return { ok: false, code: 'UNSUPPORTED_VERSION', detail: `version ${version}` };
  if (suite !== SUITE_X25519_CHACHA) return { ok: false, code: 'UNSUPPORTED_VERSION', detail: `suite ${suite}` };
  if (bin.length < BIN_HEADER + TAG_LENGTH) return { ok: false, code: 'MALFORMED', detail: 'too short' };
  const header = new Uint8Array(HEADER_LENGTH);
  header.set(PREFIX_BYTES, 0);
  header.set(bin.subarray(0, BIN_HEADER), PREFIX_BYTES.length);
  const keyIdStart = PREFIX_BYTES.length + 2;
  return {
    ok: true,
    envelope: {
      version,
      suite,
      keyId: header.subarray(keyIdStart, keyIdStart + KEY_ID_LENGTH),
      enc: header.subarray(keyIdStart + KEY_ID_LENGTH),
      header,
      ciphertext: bin.subarray(BIN_HEADER),
    },
  };
}

export function buildHeader(keyId: Uint8Array, enc: Uint8Array): Uint8Array {
  if (keyId.length !== KEY_ID_LENGTH || enc.length !== ENC_LENGTH) throw new RangeError('buildHeader: bad keyId or enc length');
  return concatBytes(PREFIX_BYTES, Uint8Array.of(PROTOCOL_VERSION, SUITE_X25519_CHACHA), keyId, enc);
}

export function envelopeInfo(keyId: Uint8Array): Uint8Array {
  return concatBytes(labelPrefix(LABEL.envelopeInfo), Uint8Array.of(PROTOCOL_VERSION, SUITE_X25519_CHACHA), keyId);
}

export function envelopeText(header: Uint8Array, ciphertext: Uint8Array): string {
  return ENVELOPE_PREFIX + base45Encode(concatBytes(header.subarray(PREFIX_BYTES.length), ciphertext));
}
