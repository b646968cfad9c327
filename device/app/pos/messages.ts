/**
 * POS link messages (docs/pos-link.md): one JSON object per line. Parsing never throws: a bad line
 * becomes a coded error that the link sends back as {type:'error', code}.
 */
import { isValidChargeId } from '../../core/protocol/authorization.ts';

/** Longest accepted line, in bytes, without its newline. */
export const MAX_LINE_BYTES = 4096;

export const POS_ERROR = {
  MALFORMED: 'MALFORMED',
  LINE_TOO_LONG: 'LINE_TOO_LONG',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  BAD_FIELD: 'BAD_FIELD',
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  BAD_MAC: 'BAD_MAC',
  REPLAYED_SEQ: 'REPLAYED_SEQ',
  UNKNOWN_CHARGE: 'UNKNOWN_CHARGE',
  CHARGE_CONFLICT: 'CHARGE_CONFLICT',
  CHARGE_FINAL: 'CHARGE_FINAL',
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  NOT_POS_MODE: 'NOT_POS_MODE',
  UNKNOWN_DEBIT: 'UNKNOWN_DEBIT',
  DEBIT_UPLOADED: 'DEBIT_UPLOADED',
  ALREADY_VOIDED: 'ALREADY_VOIDED',
  BUSY: 'BUSY',
  INTERNAL: 'INTERNAL',
} as const;
export type PosErrorCode = (typeof POS_ERROR)[keyof typeof POS_ERROR];

export type ChargeStateName = 'pending' | 'paid' | 'cancelled' | 'declined';

/** A correlation id the POS may attach to a command; the reply echoes it as `re`. */
export type MessageId = string | number;

export type PosCommand =
  | { type: 'charge'; chargeId: string; amount: number; currency: string }
  | { type: 'cancel'; chargeId: string }
  | { type: 'status'; chargeId: string }
  | { type: 'void'; debitId: string };

export interface ChargeReply {
  type: 'charge';
  chargeId: string;
  amount: number;
  currency: string;
  state: ChargeStateName;
  debitId: string | null;
  /** Set when this charge replaced another pending one (which is now cancelled). */
  replaced?: string;
  /** Set when the debit that paid this charge has been voided since. */
  voided?: boolean;
}

export interface ErrorReply {
  type: 'error';
  code: PosErrorCode;
  detail?: string;
  chargeId?: string;
  state?: ChargeStateName;
}

export interface VoidedReply {
  type: 'voided';
  debitId: string;
  chargeId: string | null;
  /** The signed void record (hex), docs/protocol.md section 10: "VD" | 1 | debitId 16 | voidedAt u32 | signature 64. */
  record: string;
}

export type PosReply = ChargeReply | ErrorReply | VoidedReply;

export type PosEvent =
  | { type: 'paid'; chargeId: string | null; debitId: string; amount: number; currency: string }
  | { type: 'declined'; chargeId: string | null; code: string };

export type ParsedLine =
  | { ok: true; command: PosCommand; id?: MessageId; raw: Record<string, unknown> }
  | { ok: false; code: PosErrorCode; detail: string; id?: MessageId };

const DEBIT_ID = /^[0-9a-f]{32}$/;
const CURRENCY = /^[A-Z]{3}$/;
const ENVELOPE_KEYS = new Set(['type', 'id', 'seq', 'mac']);
const FIELDS: Record<PosCommand['type'], readonly string[]> = {
  charge: ['chargeId', 'amount', 'currency'],
  cancel: ['chargeId'],
  status: ['chargeId'],
  void: ['debitId'],
};

function idOf(raw: Record<string, unknown>): MessageId | undefined {
  const id = raw['id'];
  if (typeof id === 'string' && id.length <= 64) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id;
  return undefined;
}

function bad(detail: string, id: MessageId | undefined): ParsedLine {
  return id === undefined ? { ok: false, code: POS_ERROR.BAD_FIELD, detail } : { ok: false, code: POS_ERROR.BAD_FIELD, detail, id };
}

/** Parses one line (already split, without its newline) into a command; never throws. */
export function parseLine(line: string): ParsedLine {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, code: POS_ERROR.MALFORMED, detail: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, code: POS_ERROR.MALFORMED, detail: 'not a JSON object' };
  const obj = raw as Record<string, unknown>;
  const id = idOf(obj);
  const type = obj['type'];
  if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) {
    const detail = `unknown type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 24)) : typeof type}`;
    return id === undefined ? { ok: false, code: POS_ERROR.UNKNOWN_TYPE, detail } : { ok: false, code: POS_ERROR.UNKNOWN_TYPE, detail, id };
  }
  const t = type as PosCommand['type'];
  for (const k of Object.keys(obj)) {
    if (!ENVELOPE_KEYS.has(k) && !FIELDS[t].includes(k)) return bad(`${t}: unexpected field ${JSON.stringify(k.slice(0, 24))}`, id);
  }
  const command = buildCommand(t, obj);
  if (typeof command === 'string') return bad(command, id);
  return id === undefined ? { ok: true, command, raw: obj } : { ok: true, command, id, raw: obj };
}

function chargeIdOf(t: string, obj: Record<string, unknown>): string | { error: string } {
  const c = obj['chargeId'];
  if (typeof c !== 'string' || !isValidChargeId(c)) return { error: `${t}: chargeId must be 1-32 printable ASCII characters without spaces` };
  return c;
}

function buildCommand(t: PosCommand['type'], obj: Record<string, unknown>): PosCommand | string {
  if (t === 'void') {
    const d = obj['debitId'];
    return typeof d === 'string' && DEBIT_ID.test(d) ? { type: 'void', debitId: d } : 'void: debitId must be 32 lowercase hex digits';
  }
  const chargeId = chargeIdOf(t, obj);
  if (typeof chargeId !== 'string') return chargeId.error;
  if (t === 'cancel' || t === 'status') return { type: t, chargeId };
  const amount = obj['amount'];
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || amount > 0xffffffff) {
    return 'charge: amount must be a positive integer in minor units (cents)';
  }
  const currency = obj['currency'];
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) return 'charge: currency must be an ISO 4217 code like "EUR"';
  return { type: 'charge', chargeId, amount, currency };
}

/**
 * Canonical JSON for the MAC: object keys sorted by UTF-16 code unit, no whitespace, arrays in
 * order, numbers and strings as JSON.stringify writes them.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
