/**
 * Phone side of the NFC APDU exchange (Android Host Card Emulation), as a pure state machine.
 * Android's HostApduService.processCommandApdu(bytes) maps onto `respond(bytes)`, and
 * onDeactivated() onto `reset()`. No node: imports: this file also ships in the wallet.
 *
 * The wire format (both sides) is documented with byte fixtures in drivers/nfc/apdu.ts;
 * the constants below are the single source of truth the box driver re-exports.
 */

/** Application identifier: proprietary RID 'F0' + ASCII "QRPAY" + AID version 01. */
export const QRPAY_AID: Uint8Array = Uint8Array.of(0xf0, 0x51, 0x52, 0x50, 0x41, 0x59, 0x01);

export const NFC_EXCHANGE = {
  /** First byte of the SELECT response data. */
  version: 0x01,
  phoneNonceLength: 16,
  /** Upper bound on a reassembled PUT ANSWER (the phone refuses anything larger). */
  maxAnswerBytes: 4096,
  claSelect: 0x00,
  insSelect: 0xa4,
  /** Proprietary class; `| claChaining` on every PUT ANSWER chunk except the last (ISO 7816-4 chaining). */
  claProprietary: 0x80,
  claChaining: 0x10,
  insPutAnswer: 0xd0,
} as const;

/** Status words used by the exchange (big-endian SW1 SW2 as one number). */
export const SW = {
  OK: 0x9000,
  /** Last PUT ANSWER chunk: the phone's callback refused the answer (e.g. box signature invalid). */
  REFUSED: 0x6982,
  /** SELECT of an AID this service does not own. */
  FILE_NOT_FOUND: 0x6a82,
  WRONG_LENGTH: 0x6700,
  WRONG_DATA: 0x6a80,
  WRONG_P1P2: 0x6a86,
  /** PUT ANSWER without a preceding SELECT (or after the answer was already consumed). */
  CONDITIONS_NOT_SATISFIED: 0x6985,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
} as const;

export interface HceResponderOptions {
  /** Cryptographic random source (e.g. SecureRandom / crypto.getRandomValues). */
  randomBytes(length: number): Uint8Array;
  /**
   * Called once per SELECT, with the reassembled answer of the last PUT ANSWER chunk.
   * Return true to accept (phone replies 90 00), false to refuse (69 82). A throw counts as refusal.
   */
  onAnswer(phoneNonce: Uint8Array, answerBytes: Uint8Array): boolean;
  /** Defaults to NFC_EXCHANGE.maxAnswerBytes. */
  maxAnswerBytes?: number;
}

export interface HceResponder {
  /** One command APDU in, response data || SW1 SW2 out. Never throws. */
  respond(commandApdu: Uint8Array): Uint8Array;
  /** Link lost / deselected: forget the nonce and any partial answer. */
  reset(): void;
}

type HceState =
  | { kind: 'idle' }
  | { kind: 'selected'; nonce: Uint8Array; nextIndex: number; chunks: Uint8Array[]; received: number };

function sw(word: number, data?: Uint8Array): Uint8Array {
  const n = data?.length ?? 0;
  const out = new Uint8Array(n + 2);
  if (data) out.set(data, 0);
  out[n] = word >> 8;
  out[n + 1] = word & 0xff;
  return out;
}

/**
 * Short-APDU body: returns the Lc data, or null when the length bytes do not add up.
 * Accepts case 3 (`hdr Lc data`) and case 4 (`hdr Lc data Le`); rejects extended length (Lc = 00).
 */
function commandData(apdu: Uint8Array): Uint8Array | null {
  if (apdu.length < 6) return null;
  const lc = apdu[4]!;
  if (lc === 0) return null;
  if (apdu.length !== 5 + lc && apdu.length !== 6 + lc) return null;
  return apdu.subarray(5, 5 + lc);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function createHceResponder(options: HceResponderOptions): HceResponder {
  const maxAnswerBytes = options.maxAnswerBytes ?? NFC_EXCHANGE.maxAnswerBytes;
  let state: HceState = { kind: 'idle' };

  function select(apdu: Uint8Array): Uint8Array {
    if (apdu[2] !== 0x04 || apdu[3] !== 0x00) return sw(SW.WRONG_P1P2);
    const aid = commandData(apdu);
    if (aid === null) return sw(SW.WRONG_LENGTH);
    if (!sameBytes(aid, QRPAY_AID)) {
      state = { kind: 'idle' };
      return sw(SW.FILE_NOT_FOUND);
    }
    const nonce = options.randomBytes(NFC_EXCHANGE.phoneNonceLength);
    if (!(nonce instanceof Uint8Array) || nonce.length !== NFC_EXCHANGE.phoneNonceLength) {
      state = { kind: 'idle' };
      return sw(SW.UNKNOWN);
    }
    const nonceCopy = Uint8Array.from(nonce);
    state = { kind: 'selected', nonce: nonceCopy, nextIndex: 0, chunks: [], received: 0 };
    const data = new Uint8Array(1 + nonceCopy.length);
    data[0] = NFC_EXCHANGE.version;
    data.set(nonceCopy, 1);
    return sw(SW.OK, data);
  }

  function putAnswer(apdu: Uint8Array, chained: boolean): Uint8Array {
    if (state.kind !== 'selected') return sw(SW.CONDITIONS_NOT_SATISFIED);
    const s = state;
    if (apdu[2] !== 0x00) return sw(SW.WRONG_P1P2);
    const data = commandData(apdu);
    if (data === null) {
      state = { ...s, nextIndex: 0, chunks: [], received: 0 };
      return sw(SW.WRONG_LENGTH);
    }
    // Out-of-order or oversized chunks abort the partial answer; a new chain must restart at index 0.
    if (apdu[3] !== s.nextIndex || s.received + data.length > maxAnswerBytes) {
      state = { ...s, nextIndex: 0, chunks: [], received: 0 };
      return sw(SW.WRONG_DATA);
    }
    s.chunks.push(Uint8Array.from(data));
    s.received += data.length;
    s.nextIndex += 1;
    if (chained) {
      if (s.nextIndex > 0xff) {
        state = { ...s, nextIndex: 0, chunks: [], received: 0 };
        return sw(SW.WRONG_DATA);
      }
      return sw(SW.OK);
    }
    const answer = new Uint8Array(s.received);
    let offset = 0;
    for (const c of s.chunks) {
      answer.set(c, offset);
      offset += c.length;
    }
    // One answer per SELECT: the nonce is consumed whatever the verdict.
    state = { kind: 'idle' };
    let accepted = false;
    try {
      accepted = options.onAnswer(s.nonce, answer) === true;
    } catch {
      accepted = false;
    }
    return sw(accepted ? SW.OK : SW.REFUSED);
  }

  function respond(commandApdu: Uint8Array): Uint8Array {
    try {
      if (!(commandApdu instanceof Uint8Array) || commandApdu.length < 4) return sw(SW.WRONG_LENGTH);
      const cla = commandApdu[0]!;
      const ins = commandApdu[1]!;
      if (cla === NFC_EXCHANGE.claSelect) {
        return ins === NFC_EXCHANGE.insSelect ? select(commandApdu) : sw(SW.INS_NOT_SUPPORTED);
      }
      const chained = cla === (NFC_EXCHANGE.claProprietary | NFC_EXCHANGE.claChaining);
      if (cla === NFC_EXCHANGE.claProprietary || chained) {
        return ins === NFC_EXCHANGE.insPutAnswer ? putAnswer(commandApdu, chained) : sw(SW.INS_NOT_SUPPORTED);
      }
      return sw(SW.CLA_NOT_SUPPORTED);
    } catch {
      state = { kind: 'idle' };
      return sw(SW.UNKNOWN);
    }
  }

  return {
    respond,
    reset() {
      state = { kind: 'idle' };
    },
  };
}
