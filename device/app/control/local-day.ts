/**
 * Local calendar days in an IANA time zone, with nothing but Intl: "today" for `scanner status`
 * and the date range of `scanner journal export` are the merchant's days, not UTC days.
 * A day is [local midnight, next local midnight) in epoch ms; DST days are 23 or 25 hours long.
 */

export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
    });
  } catch {
    throw new RangeError(`localDay: unknown time zone ${JSON.stringify(timeZone)}`);
  }
}

function wallParts(ms: number, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const out: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return { y: out['year'] ?? 0, mo: out['month'] ?? 1, d: out['day'] ?? 1, h: out['hour'] ?? 0, mi: out['minute'] ?? 0, s: out['second'] ?? 0 };
}

/** The zone's offset from UTC at instant `ms` (ms east of UTC, e.g. +3600000 for CET). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const w = wallParts(ms, timeZone);
  const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The local calendar date at instant `ms`. */
export function localDateOf(ms: number, timeZone: string): LocalDate {
  const w = wallParts(ms, timeZone);
  return { year: w.y, month: w.mo, day: w.d };
}

/** Epoch ms of local midnight starting `date` (the first instant of that local day). */
export function localMidnightMs(date: LocalDate, timeZone: string): number {
  const utcMidnight = Date.UTC(date.year, date.month - 1, date.day);
  // Two refinements settle the offset even when midnight sits next to a DST change.
  let guess = utcMidnight - zoneOffsetMs(utcMidnight, timeZone);
  guess = utcMidnight - zoneOffsetMs(guess, timeZone);
  // Where midnight itself does not exist (a DST jump at 00:00), the day starts at the first instant after it.
  const w = localDateOf(guess, timeZone);
  if (w.year !== date.year || w.month !== date.month || w.day !== date.day) guess += 3600_000;
  return guess;
}

export function addDays(date: LocalDate, n: number): LocalDate {
  const t = new Date(Date.UTC(date.year, date.month - 1, date.day + n));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** [start, end) of the local day holding instant `ms`. */
export function localDayBounds(ms: number, timeZone: string): { fromMs: number; toMs: number; date: string } {
  const d = localDateOf(ms, timeZone);
  return { fromMs: localMidnightMs(d, timeZone), toMs: localMidnightMs(addDays(d, 1), timeZone), date: formatLocalDate(d) };
}

/** Parses "2026-11-01"; undefined when malformed or not a real date. */
export function parseLocalDate(text: string): LocalDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  const t = new Date(Date.UTC(date.year, date.month - 1, date.day));
  if (t.getUTCFullYear() !== date.year || t.getUTCMonth() + 1 !== date.month || t.getUTCDate() !== date.day) return undefined;
  return date;
}

export function formatLocalDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/** "2026-11-01 14:03:07" in the zone (for CSV and the status report). */
export function formatLocalDateTime(ms: number, timeZone: string): string {
  const w = wallParts(ms, timeZone);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${formatLocalDate({ year: w.y, month: w.mo, day: w.d })} ${p(w.h)}:${p(w.mi)}:${p(w.s)}`;
}
