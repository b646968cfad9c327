/** Amounts are integers in minor units; text uses the currency's decimal places. */

/** Parses "12.50" with `exponent` decimal places into minor units; null if malformed or too precise. */
export function parseAmount(text: string, exponent: number): number | null {
  const m = /^(\d{1,10})(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return null;
  const frac = m[2] ?? '';
  if (frac.length > exponent) return null;
  const v = Number(m[1]) * 10 ** exponent + Number(frac.padEnd(exponent, '0') || '0');
  return Number.isSafeInteger(v) && v <= 0xffffffff ? v : null;
}

export function formatAmount(minor: number, exponent: number, currency?: string): string {
  const s = exponent === 0 ? String(minor) : `${Math.floor(minor / 10 ** exponent)}.${String(minor % 10 ** exponent).padStart(exponent, '0')}`;
  return currency ? `${s} ${currency}` : s;
}
