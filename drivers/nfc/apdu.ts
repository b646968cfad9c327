/**
 * APDU codec for the box <-> phone NFC exchange. Pure helpers: no I/O, and the parsers never throw.
 *
 * Roles: the box's PC/SC reader is the initiator; the phone runs Android HCE (wallet/lib/nfc-hce.ts).
 *
 * 1) SELECT by AID (box -> phone), ISO 7816-4 case 4 short APDU:
 *      00                    CLA  interindustry
 *      A4                    INS  SELECT
 *      04                    P1   select by DF name (AID)
 *      00                    P2   first or only occurrence, return FCI
 *      07                    Lc   AID length
 *      F0 51 52 50 41 59 01  AID  'F0' proprietary RID + "QRPAY" + AID version 01
 *      00                    Le   up to 256 bytes of response
 *    Response (phone -> box), 19 bytes:
 *      01                    exchange version
 *      xx * 16               phone nonce (fresh per SELECT)
 *      90 00                 SW   OK
 *    An unknown AID answers 6A 82 (no wallet app registered for it).
 *
 * 2) PUT ANSWER (box -> phone), case 3 short APDUs, one per chunk of at most maxChunk (default 240) bytes:
 *      90 | 80               CLA  proprietary 0x80; 0x90 = chaining bit 0x10 set on all chunks but the last
 *      D0                    INS  PUT ANSWER
 *      00                    P1   reserved
 *      nn                    P2   chunk index, 00, 01, 02 ... (order is checked by the phone)
 *      Lc                    Lc   chunk length, 1..255
 *      ...                   data the box's answer bytes (opaque here)
 *    Response: 90 00 to every intermediate chunk; to the last chunk 90 00 (accepted) or 69 82 (refused).
 *    Any other SW (67 00 wrong length, 6A 80 bad chunk index/size, 69 85 no SELECT) aborts the exchange.
 *
 * Why chunks: the ACR122U takes short APDUs only (CCID max 271 bytes per exchange).
 */
import { BoxError, describeValue } from '../../device/core/errors.ts';
import { NFC_EXCHANGE, QRPAY_AID, SW } from '../../wallet/lib/nfc-hce.ts';

export { NFC_EXCHANGE, QRPAY_AID, SW };

/** Default PUT ANSWER chunk size: fits a short APDU (5-byte header + 240 <= 261) on an ACR122U. */
export const DEFAULT_MAX_CHUNK = 240;
/** Response buffer we offer the reader for every APDU: a short response (256 data bytes) + SW. */
export const MAX_SHORT_RESPONSE = 258;

export const NFC_CODES = {
  /** Phone answered 69 82 to the last PUT ANSWER chunk. */
  PHONE_REFUSED: 'NFC_PHONE_REFUSED',
  /** Phone left the field (card removed / reset / unresponsive). */
  REMOVED: 'NFC_REMOVED',
  TIMEOUT: 'NFC_TIMEOUT',
  /** Response of the wrong length or shape. */
  BAD_RESPONSE: 'NFC_BAD_RESPONSE',
  /** Fewer than 2 bytes: no status word at all. */
  SHORT_RESPONSE: 'NFC_SHORT_RESPONSE',
  /** A status word that is not the one expected at this step. */
  BAD_SW: 'NFC_BAD_SW',
  /** SELECT answered 6A 82: the phone has no app for our AID. */
  NO_APP: 'NFC_NO_APP',
  UNSUPPORTED_VERSION: 'NFC_UNSUPPORTED_VERSION',
  /** The box's buildAnswer callback threw or returned something unusable. */
  ANSWER_FAILED: 'NFC_ANSWER_FAILED',
  /** The reader failed the transmit for a reason other than removal or timeout. */
  TRANSMIT_FAILED: 'NFC_TRANSMIT_FAILED',
} as const;
export type NfcCode = (typeof NFC_CODES)[keyof typeof NFC_CODES];

export type Parsed<T> = { ok: true; value: T } | { ok: false; code: NfcCode; sw?: number };

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

export interface SelectResponse {
  version: number;
  phoneNonce: Uint8Array;
}

/** `00 A4 04 00 Lc AID 00`. Throws on an AID outside ISO 7816-5's 5..16 bytes (a programming error). */
export function buildSelect(aid: Uint8Array = QRPAY_AID): Uint8Array {
  if (!(aid instanceof Uint8Array) || aid.length < 5 || aid.length > 16) {
    throw new BoxError('NFC_BAD_AID', `buildSelect: expected AID of 5..16 bytes, got ${describeValue(aid)}`);
  }
  const out = new Uint8Array(6 + aid.length);
  out.set([NFC_EXCHANGE.claSelect, NFC_EXCHANGE.insSelect, 0x04, 0x00, aid.length], 0);
  out.set(aid, 5);
  out[5 + aid.length] = 0x00;
  return out;
}

/** Splits a response APDU into data and SW1SW2. Never throws. */
export function parseResponse(bytes: unknown): Parsed<ResponseApdu> {
  if (!(bytes instanceof Uint8Array)) return { ok: false, code: NFC_CODES.BAD_RESPONSE };
  if (bytes.length < 2) return { ok: false, code: NFC_CODES.SHORT_RESPONSE };
  const n = bytes.length;
  return { ok: true, value: { data: bytes.subarray(0, n - 2), sw: (bytes[n - 2]! << 8) | bytes[n - 1]! } };
}

/** `01 || nonce(16) || 90 00` -> { version, phoneNonce }, or a coded error. Never throws. */
export function parseSelectResponse(bytes: unknown): Parsed<SelectResponse> {
  const r = parseResponse(bytes);
  if (!r.ok) return r;
  const { data, sw } = r.value;
  if (sw === SW.FILE_NOT_FOUND) return { ok: false, code: NFC_CODES.NO_APP, sw };
  if (sw !== SW.OK) return { ok: false, code: NFC_CODES.BAD_SW, sw };
  if (data.length < 1) return { ok: false, code: NFC_CODES.BAD_RESPONSE, sw };
  if (data[0] !== NFC_EXCHANGE.version) return { ok: false, code: NFC_CODES.UNSUPPORTED_VERSION, sw };
  if (data.length !== 1 + NFC_EXCHANGE.phoneNonceLength) return { ok: false, code: NFC_CODES.BAD_RESPONSE, sw };
  return { ok: true, value: { version: data[0], phoneNonce: Uint8Array.from(data.subarray(1)) } };
}

/**
 * Response to one PUT ANSWER chunk: exactly `90 00`, or `69 82` on the last chunk (refusal).
 * Any response data is a protocol error. Never throws.
 */
export function parsePutAnswerResponse(bytes: unknown, isLast: boolean): Parsed<'accepted' | 'continue'> {
  const r = parseResponse(bytes);
  if (!r.ok) return r;
  const { data, sw } = r.value;
  if (data.length !== 0) return { ok: false, code: NFC_CODES.BAD_RESPONSE, sw };
  if (sw === SW.OK) return { ok: true, value: isLast ? 'accepted' : 'continue' };
  if (sw === SW.REFUSED && isLast) return { ok: false, code: NFC_CODES.PHONE_REFUSED, sw };
  return { ok: false, code: NFC_CODES.BAD_SW, sw };
}

/**
 * Splits the box's answer into PUT ANSWER command APDUs (ISO 7816-4 command chaining).
 * Throws BoxError('NFC_ANSWER_INVALID') on an empty/oversized answer or a maxChunk outside 1..255.
 */
export function chunkAnswer(answer: Uint8Array, maxChunk: number = DEFAULT_MAX_CHUNK): Uint8Array[] {
  if (!Number.isInteger(maxChunk) || maxChunk < 1 || maxChunk > 255) {
    throw new BoxError('NFC_ANSWER_INVALID', `chunkAnswer: expected maxChunk 1..255, got ${describeValue(maxChunk)}`);
  }
  if (!(answer instanceof Uint8Array) || answer.length === 0 || answer.length > NFC_EXCHANGE.maxAnswerBytes) {
    throw new BoxError(
      'NFC_ANSWER_INVALID',
      `chunkAnswer: expected 1..${NFC_EXCHANGE.maxAnswerBytes} answer bytes, got ${describeValue(answer)}`,
    );
  }
  const count = Math.ceil(answer.length / maxChunk);
  if (count > 256) {
    throw new BoxError('NFC_ANSWER_INVALID', `chunkAnswer: ${count} chunks do not fit a one-byte P2 index`);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const chunk = answer.subarray(i * maxChunk, Math.min(answer.length, (i + 1) * maxChunk));
    const last = i === count - 1;
    const apdu = new Uint8Array(5 + chunk.length);
    apdu[0] = last ? NFC_EXCHANGE.claProprietary : NFC_EXCHANGE.claProprietary | NFC_EXCHANGE.claChaining;
    apdu[1] = NFC_EXCHANGE.insPutAnswer;
    apdu[2] = 0x00;
    apdu[3] = i;
    apdu[4] = chunk.length;
    apdu.set(chunk, 5);
    out.push(apdu);
  }
  return out;
}

/** `0x6982` -> "6982", for logs and results. */
export function swHex(sw: number): string {
  return (sw & 0xffff).toString(16).padStart(4, '0');
}
