/**
 * Pure parsers for the AT answers the connectivity driver needs (3GPP TS 27.007 plus Quectel's
 * +QLTS). Each takes one response line and returns a value or `undefined`; none of them throws.
 * Fixtures with per-field comments live in test/unit/modem-at-parser.test.ts.
 */
import type { Registration } from './types.ts';

const UINT = /^\d{1,3}$/;

/** Split the parameter list after `<prefix>:`; undefined when the prefix does not match. */
function params(line: string, prefix: string): string[] | undefined {
  if (typeof line !== 'string') return undefined;
  const t = line.trim();
  if (!t.toUpperCase().startsWith(`${prefix}:`)) return undefined;
  const rest = t.slice(prefix.length + 1).trim();
  if (rest === '') return [];
  // Commas inside quotes belong to the value ("2026/11/25,10:00:00+32,0").
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of rest) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (quoted) return undefined; // unbalanced quote: truncated line
  out.push(cur.trim());
  return out;
}

function uint(s: string | undefined): number | undefined {
  return s !== undefined && UINT.test(s) ? Number(s) : undefined;
}

function unquote(s: string | undefined): string | undefined {
  if (s === undefined || s.length < 2 || !s.startsWith('"') || !s.endsWith('"')) return undefined;
  return s.slice(1, -1);
}

export interface RegistrationInfo {
  /** URC mode (<n>); absent in an unsolicited report. */
  n?: number;
  /** <stat> as sent: 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming, 6..10 SMS-only/emergency/CSFB. */
  stat: number;
  registration: Registration;
  /** True only for stat 1 (home) and 5 (roaming). */
  registered: boolean;
  /** Tracking/location area code (hex string) when <n> >= 2. */
  tac?: string;
  /** Cell id (hex string) when <n> >= 2. */
  ci?: string;
  /** Access technology (7 = E-UTRAN) when <n> >= 2. */
  act?: number;
}

const STAT: Record<number, Registration> = {
  0: 'not-registered',
  1: 'home',
  2: 'searching',
  3: 'denied',
  4: 'unknown',
  5: 'roaming',
};

/**
 * `+CEREG: <n>,<stat>[,<tac>,<ci>,<AcT>...]` (query answer) or `+CEREG: <stat>[,...]` (URC).
 * Also accepts +CGREG and +CREG, which share the layout.
 */
export function parseRegistration(line: string): RegistrationInfo | undefined {
  const p = params(line, '+CEREG') ?? params(line, '+CGREG') ?? params(line, '+CREG');
  if (p === undefined || p.length === 0) return undefined;
  const a = uint(p[0]);
  const b = uint(p[1]);
  // Query answer: two leading integers (<n>,<stat>). URC: <stat> first, then quoted fields.
  const query = a !== undefined && b !== undefined;
  const stat = query ? b : a;
  if (stat === undefined || stat > 10) return undefined;
  const rest = query ? p.slice(2) : p.slice(1);
  const info: RegistrationInfo = {
    stat,
    registration: STAT[stat] ?? 'unknown',
    registered: stat === 1 || stat === 5,
  };
  if (query) info.n = a;
  const tac = unquote(rest[0]);
  const ci = unquote(rest[1]);
  const act = uint(rest[2]);
  if (tac !== undefined) info.tac = tac;
  if (ci !== undefined) info.ci = ci;
  if (act !== undefined) info.act = act;
  return info;
}

export interface SignalQuality {
  /** Raw <rssi>: 0..31, or 99 when unknown. */
  rssi: number;
  /** Raw <ber>: 0..7, or 99 when unknown. */
  ber: number;
  /** -113 + 2 * rssi for 0..31; undefined when rssi is 99 (unknown). */
  rssiDbm?: number;
}

/** `+CSQ: <rssi>,<ber>`. rssi 0 is <= -113 dBm, 31 is >= -51 dBm, 99 is unknown. */
export function parseCsq(line: string): SignalQuality | undefined {
  const p = params(line, '+CSQ');
  if (p === undefined || p.length !== 2) return undefined;
  const rssi = uint(p[0]);
  const ber = uint(p[1]);
  if (rssi === undefined || ber === undefined) return undefined;
  if (!(rssi <= 31 || rssi === 99) || !(ber <= 7 || ber === 99)) return undefined;
  const out: SignalQuality = { rssi, ber };
  if (rssi !== 99) out.rssiDbm = -113 + 2 * rssi;
  return out;
}

export interface OperatorInfo {
  /** 0 automatic, 1 manual, 2 deregister, 3 set format only, 4 manual/automatic. */
  mode: number;
  /** 0 long alphanumeric, 1 short alphanumeric, 2 numeric MCC+MNC. */
  format?: number;
  operator?: string;
  /** Access technology (7 = E-UTRAN). */
  act?: number;
}

/** `+COPS: <mode>[,<format>,"<oper>"[,<AcT>]]`; a lone mode means no operator selected. */
export function parseCops(line: string): OperatorInfo | undefined {
  const p = params(line, '+COPS');
  if (p === undefined || p.length === 0) return undefined;
  const mode = uint(p[0]);
  if (mode === undefined || mode > 4) return undefined;
  const out: OperatorInfo = { mode };
  if (p.length === 1) return out;
  const format = uint(p[1]);
  const operator = unquote(p[2]);
  if (format === undefined || format > 2 || operator === undefined) return undefined;
  out.format = format;
  if (operator !== '') out.operator = operator;
  const act = uint(p[3]);
  if (act !== undefined) out.act = act;
  return out;
}

/** Network times before this are a modem RTC that never got NITZ (defaults such as 1980 or 2004). */
export const DEFAULT_NOT_BEFORE_MS = Date.UTC(2024, 0, 1);

export interface TimeParseOptions {
  /** Reject times earlier than this (epoch ms). Default 2024-01-01T00:00:00Z. */
  notBeforeMs?: number;
}

// "yyyy/MM/dd,hh:mm:ss±zz" (QLTS, 4-digit year) or "yy/MM/dd,hh:mm:ss±zz" (CCLK, 2-digit year).
const STAMP = /^(\d{2}|\d{4})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-])(\d{1,2})$/;

/** Parse a timestamp; returns UTC ms and the zone offset in quarter hours. */
function stamp(s: string): { wallMs: number; quarters: number } | undefined {
  const m = STAMP.exec(s);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, se, sign, tz] = m as unknown as string[];
  const year = y!.length === 2 ? 2000 + Number(y) : Number(y);
  const [month, day, hour, min, sec] = [mo, d, h, mi, se].map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) return undefined;
  const wallMs = Date.UTC(year, month - 1, day, hour, min, sec);
  // Date.UTC rolls 31 Feb over into March; reject instead.
  if (new Date(wallMs).getUTCDate() !== day) return undefined;
  const quarters = (sign === '-' ? -1 : 1) * Number(tz);
  if (Math.abs(quarters) > 56) return undefined; // offsets stay within -14h..+14h
  return { wallMs, quarters };
}

/**
 * Quectel `+QLTS: "yyyy/MM/dd,hh:mm:ss±zz,dst"` as answered to AT+QLTS=1: the time is already GMT
 * and ±zz (quarter hours) only describes the local zone. `+QLTS: ""` means no NITZ was received.
 * Pass `{ local: true }` for AT+QLTS=2, whose time is local (GMT = local - zz * 15 min).
 */
export function parseQlts(line: string, opts: TimeParseOptions & { local?: boolean } = {}): number | undefined {
  const p = params(line, '+QLTS');
  const body = p?.length === 1 ? unquote(p[0]) : undefined;
  if (body === undefined || body === '') return undefined;
  // Body is "<date>,<time±zz>,<dst>"; dst (0..2 hours) is informative only.
  const parts = body.split(',');
  if (parts.length !== 3 || !/^[0-2]$/.test(parts[2] ?? '')) return undefined;
  const s = stamp(`${parts[0]},${parts[1]}`);
  if (s === undefined || parts[0]!.length !== 10) return undefined;
  const ms = opts.local ? s.wallMs - s.quarters * 15 * 60_000 : s.wallMs;
  return ms >= (opts.notBeforeMs ?? DEFAULT_NOT_BEFORE_MS) ? ms : undefined;
}

/**
 * `+CCLK: "yy/MM/dd,hh:mm:ss±zz"`: local time, ±zz is local minus GMT in quarter hours (27.007),
 * so GMT = local - zz * 15 min. A modem that never received NITZ (SIMCom needs AT+CTZU=3 first)
 * answers its RTC default, e.g. "80/01/06,00:00:49+00" or "04/01/01,...", which `notBeforeMs` rejects.
 */
export function parseCclk(line: string, opts: TimeParseOptions = {}): number | undefined {
  const p = params(line, '+CCLK');
  const body = p?.length === 1 ? unquote(p[0]) : undefined;
  if (body === undefined || body.length < 17 || body[2] !== '/') return undefined;
  // A 2-digit year; "80" would be read as 2080 - treat years past 2079 as the 1980 RTC default.
  if (Number(body.slice(0, 2)) >= 80) return undefined;
  const s = stamp(body);
  if (s === undefined) return undefined;
  const ms = s.wallMs - s.quarters * 15 * 60_000;
  return ms >= (opts.notBeforeMs ?? DEFAULT_NOT_BEFORE_MS) ? ms : undefined;
}

/** Final result codes that end an AT answer. */
export type FinalResult = { ok: true } | { ok: false; code: 'ERROR' | 'CME_ERROR' | 'CMS_ERROR'; detail?: string };

/** Classify one line as a final result code, or undefined when it is an intermediate line. */
export function parseFinal(line: string): FinalResult | undefined {
  const t = typeof line === 'string' ? line.trim() : '';
  if (t === 'OK') return { ok: true };
  if (t === 'ERROR') return { ok: false, code: 'ERROR' };
  const m = /^\+(CME|CMS) ERROR:\s*(.*)$/.exec(t);
  if (m === null) return undefined;
  return { ok: false, code: m[1] === 'CME' ? 'CME_ERROR' : 'CMS_ERROR', detail: m[2] ?? '' };
}
