/**
 * Box side of the NFC exchange: SELECT our AID, read the phone nonce, build the answer, send it in
 * PUT ANSWER chunks, read the phone's verdict. Byte-oriented and content-agnostic: the answer bytes come
 * from the caller's buildAnswer(phoneNonce). Never throws: every failure is a coded result.
 */
import type { Log } from '../common/log.ts';
import {
  buildSelect,
  chunkAnswer,
  DEFAULT_MAX_CHUNK,
  MAX_SHORT_RESPONSE,
  NFC_CODES,
  type NfcCode,
  parsePutAnswerResponse,
  parseSelectResponse,
  QRPAY_AID,
  swHex,
} from './apdu.ts';
import { classifyTransmitError } from './transmit-errors.ts';
import type { NfcTransmit } from './types.ts';

export type ExchangeStep = 'select' | 'build-answer' | 'put-answer';

export type BoxExchangeResult =
  | { ok: true; phoneNonce: Uint8Array; chunks: number }
  | { ok: false; code: NfcCode; step: ExchangeStep; sw?: string; chunkIndex?: number };

export interface ExchangeTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface BoxExchangeOptions {
  buildAnswer(phoneNonce: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Max PUT ANSWER data bytes per APDU, 1..255 (default 240: fits an ACR122U). */
  maxChunk?: number;
  log: Log;
  /** Per-APDU deadline on top of the reader's own; 0 disables it. Default 3000 ms. */
  apduTimeoutMs?: number;
  /** Injected timers (default: the global ones). */
  timers?: ExchangeTimers;
}

const defaultTimers: ExchangeTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

type TransmitOutcome = { ok: true; bytes: Uint8Array } | { ok: false; code: NfcCode };

/** One transmit, bounded by a deadline, with every rejection turned into a code. */
async function transmitOnce(
  transmit: NfcTransmit,
  apdu: Uint8Array,
  timeoutMs: number,
  timers: ExchangeTimers,
): Promise<TransmitOutcome> {
  let handle: unknown;
  const attempt = (async (): Promise<TransmitOutcome> => {
    try {
      const bytes = await transmit(apdu, MAX_SHORT_RESPONSE);
      return { ok: true, bytes };
    } catch (e) {
      return { ok: false, code: classifyTransmitError(e) };
    }
  })();
  if (timeoutMs <= 0) return attempt;
  const deadline = new Promise<TransmitOutcome>((resolve) => {
    handle = timers.setTimeout(() => resolve({ ok: false, code: NFC_CODES.TIMEOUT }), timeoutMs);
  });
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    timers.clearTimeout(handle);
  }
}

export async function runBoxExchange(transmit: NfcTransmit, opts: BoxExchangeOptions): Promise<BoxExchangeResult> {
  const log = opts.log;
  const timers = opts.timers ?? defaultTimers;
  const timeoutMs = opts.apduTimeoutMs ?? 3000;
  const fail = (r: Extract<BoxExchangeResult, { ok: false }>): BoxExchangeResult => {
    log.info({ code: r.code, step: r.step, sw: r.sw, chunkIndex: r.chunkIndex }, 'nfc exchange failed');
    return r;
  };
  try {
    // 1) SELECT -> version || phone nonce
    const selected = await transmitOnce(transmit, buildSelect(QRPAY_AID), timeoutMs, timers);
    if (!selected.ok) return fail({ ok: false, code: selected.code, step: 'select' });
    const sel = parseSelectResponse(selected.bytes);
    if (!sel.ok) {
      log.debug({ responseLength: selected.bytes.length }, 'nfc select response rejected');
      return fail({ ok: false, code: sel.code, step: 'select', sw: sel.sw === undefined ? undefined : swHex(sel.sw) });
    }
    const phoneNonce = sel.value.phoneNonce;

    // 2) the caller's answer, chunked for short APDUs
    let commands: Uint8Array[];
    try {
      const answer = await opts.buildAnswer(Uint8Array.from(phoneNonce));
      commands = chunkAnswer(answer, opts.maxChunk ?? DEFAULT_MAX_CHUNK);
    } catch (e) {
      log.warn({ err: e instanceof Error ? e.message : String(e) }, 'nfc buildAnswer failed');
      return fail({ ok: false, code: NFC_CODES.ANSWER_FAILED, step: 'build-answer' });
    }

    // 3) PUT ANSWER chunks; the last response carries the phone's verdict
    for (let i = 0; i < commands.length; i++) {
      const isLast = i === commands.length - 1;
      const sent = await transmitOnce(transmit, commands[i]!, timeoutMs, timers);
      if (!sent.ok) return fail({ ok: false, code: sent.code, step: 'put-answer', chunkIndex: i });
      const ack = parsePutAnswerResponse(sent.bytes, isLast);
      if (!ack.ok) {
        const sw = ack.sw === undefined ? undefined : swHex(ack.sw);
        return fail({ ok: false, code: ack.code, step: 'put-answer', sw, chunkIndex: i });
      }
    }
    log.info({ chunks: commands.length }, 'nfc exchange accepted by phone');
    return { ok: true, phoneNonce, chunks: commands.length };
  } catch {
    // Only reachable through a bug (e.g. a hostile log object); still a coded result, never a throw.
    return { ok: false, code: NFC_CODES.TRANSMIT_FAILED, step: 'select' };
  }
}
