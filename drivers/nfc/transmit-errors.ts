/**
 * Maps whatever a reader's transmit threw (nfc-pcsc TransmitError, pcsclite Error with an SCARD code,
 * our own BoxError) onto the stable NfcTransmitErrorCode set. Never throws.
 */
import { BoxError, isBoxError } from '../../device/core/errors.ts';
import type { NfcTransmitErrorCode } from './types.ts';

const TRANSMIT_CODES: ReadonlySet<string> = new Set(['NFC_REMOVED', 'NFC_TIMEOUT', 'NFC_TRANSMIT_FAILED']);

// PC/SC return codes (winscard.h) that mean the card/phone is gone.
const REMOVED_PATTERNS = [
  /0x80100069/i, // SCARD_W_REMOVED_CARD
  /0x80100068/i, // SCARD_W_RESET_CARD
  /0x80100066/i, // SCARD_W_UNRESPONSIVE_CARD
  /0x8010000c/i, // SCARD_E_NO_SMARTCARD
  /card was removed|card was reset|no smart card|unresponsive|card_not_connected|not connected|no card/i,
];
const TIMEOUT_PATTERNS = [/0x8010000a/i /* SCARD_E_TIMEOUT */, /time ?out|timed out/i];

function messagesOf(e: unknown, depth = 0): string[] {
  if (depth > 4 || e === null || typeof e !== 'object') return typeof e === 'string' ? [e] : [];
  const o = e as { message?: unknown; code?: unknown; previousError?: unknown; cause?: unknown };
  const own = [o.message, o.code].filter((v): v is string => typeof v === 'string');
  return [...own, ...messagesOf(o.previousError, depth + 1), ...messagesOf(o.cause, depth + 1)];
}

export function classifyTransmitError(e: unknown): NfcTransmitErrorCode {
  try {
    if (isBoxError(e) && TRANSMIT_CODES.has(e.code)) return e.code as NfcTransmitErrorCode;
    const text = messagesOf(e).join(' | ');
    if (REMOVED_PATTERNS.some((p) => p.test(text))) return 'NFC_REMOVED';
    if (TIMEOUT_PATTERNS.some((p) => p.test(text))) return 'NFC_TIMEOUT';
  } catch {
    // fall through: an exotic thrown value is still just a failed transmit
  }
  return 'NFC_TRANSMIT_FAILED';
}

/** Wraps a reader error as the BoxError the NfcTransmit contract promises. */
export function toTransmitError(where: string, e: unknown): BoxError {
  const code = classifyTransmitError(e);
  const detail = messagesOf(e)[0] ?? 'unknown error';
  return new BoxError(code, `${where}: transmit failed (${code}): ${detail.slice(0, 120)}`, {
    retryable: code !== 'NFC_TRANSMIT_FAILED',
    cause: e,
  });
}
