/**
 * Sample statistics and formatting for the bench. Samples are microseconds unless named otherwise.
 */

export interface Summary {
  n: number;
  medianUs: number;
  p99Us: number;
  /** Operations per second over the whole timed loop (n / wall time), not 1 / median. */
  perSecond: number;
}

/** Median and p99 (nearest rank) of `samplesUs`; `wallUs` is the loop's total wall time. */
export function summarize(samplesUs: Float64Array | number[], wallUs: number): Summary {
  const sorted = Float64Array.from(samplesUs).sort();
  const n = sorted.length;
  if (n === 0) throw new Error('bench.summarize: expected at least one sample, got 0');
  const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!;
  return { n, medianUs: round1(at(0.5)), p99Us: round1(at(0.99)), perSecond: Math.round((n * 1e6) / wallUs) };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const round1 = (x: number) => Math.round(x * 10) / 10;

export const usSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1000;

/** "x1.23" with a verdict against `goal` (lower is better). */
export function ratioText(ratio: number, goal: number): string {
  return `x${ratio.toFixed(2)} (goal <= ${goal}: ${ratio <= goal ? 'met' : 'MISSED'})`;
}

export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(1)} us`;
}

export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return 'n/a';
  if (Math.abs(b) >= 1 << 20) return `${(b / (1 << 20)).toFixed(2)} MiB`;
  if (Math.abs(b) >= 1 << 10) return `${(b / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(b)} B`;
}

/** One timing row: name, median, p99, rate. */
export function timingRow(name: string, s: Summary, extra = ''): string {
  return `  ${name.padEnd(44)} median ${fmtUs(s.medianUs).padStart(9)}  p99 ${fmtUs(s.p99Us).padStart(9)}  ${String(s.perSecond).padStart(6)}/s  n=${s.n}${extra ? `  ${extra}` : ''}`;
}

/** Lets pending I/O callbacks and timers run (between phases, never inside a timed loop). */
export const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));
