/**
 * Bounds on the true time for a box without a battery-backed clock (docs/operations.md "Clock").
 *
 * - lower bound = the persisted last-known-good time (or the build time), plus monotonic time
 *   elapsed since start; it moves forward only through elapsed time and back-end signed time.
 * - upper bound = the system clock plus an allowance when the system clock is not behind the
 *   lower bound; otherwise the lower bound plus a wide allowance (a box booted in 1970).
 * - When the kernel reports the system clock synchronised by NTP (systemd-timesyncd's
 *   /run/systemd/timesync/synchronized), the lower bound may follow the system clock (minus a
 *   margin); a spoofed NTP can then only make codes look stale, never accept old ones.
 * - A timestamp inside a QR code never moves either bound.
 */
import type { ClockView } from '../core/views.ts';

export interface ClockDeps {
  /** Wall clock (ms). */
  wallNow: () => number;
  /** Monotonic clock (ms), e.g. performance.now(). */
  monoNow: () => number;
  loadLastKnownGood: () => number | undefined;
  saveLastKnownGood: (ms: number) => void;
  /** No true time is earlier than this (the release's build time). */
  floorMs: number;
  /** True when NTP has synchronised the system clock (optional; default never). */
  systemClockSynced?: () => boolean;
}

const SYNCED_MARGIN_MS = 5_000;

const SYSTEM_ALLOWANCE_MS = 10 * 60_000;
const UNKNOWN_ALLOWANCE_MS = 30 * 24 * 3600_000;

export class BoxClock {
  private baseLowerMs: number;
  private baseMono: number;

  constructor(private readonly deps: ClockDeps) {
    this.baseLowerMs = Math.max(deps.floorMs, deps.loadLastKnownGood() ?? 0);
    this.baseMono = deps.monoNow();
  }

  view(): ClockView {
    const wall = this.deps.wallNow();
    let lowerMs = this.baseLowerMs + (this.deps.monoNow() - this.baseMono);
    if (this.deps.systemClockSynced?.() && wall - SYNCED_MARGIN_MS > lowerMs) {
      this.baseLowerMs = wall - SYNCED_MARGIN_MS;
      this.baseMono = this.deps.monoNow();
      lowerMs = this.baseLowerMs;
    }
    const upperMs = wall >= lowerMs ? wall + SYSTEM_ALLOWANCE_MS : lowerMs + UNKNOWN_ALLOWANCE_MS;
    // Whole milliseconds: the journal stores integers (a fractional monotonic reading would be refused).
    return { lowerMs: Math.floor(lowerMs), upperMs: Math.ceil(upperMs) };
  }

  /** True when the system clock agrees with the bounds (not behind the last-known-good time). */
  trusted(): boolean {
    return this.deps.wallNow() >= this.view().lowerMs;
  }

  /** A best estimate for display and daily totals. */
  nowMs(): number {
    const v = this.view();
    return this.trusted() ? this.deps.wallNow() : v.lowerMs;
  }

  /** Back-end signed time (verified by the caller) moves the lower bound forward, never back. */
  applySignedTime(signedMs: number): void {
    const current = this.view().lowerMs;
    if (signedMs > current) {
      this.baseLowerMs = signedMs;
      this.baseMono = this.deps.monoNow();
    }
    this.persist();
  }

  /** Persist the current lower bound as the last-known-good time (periodically and at shutdown). */
  persist(): void {
    this.deps.saveLastKnownGood(Math.floor(this.view().lowerMs));
  }
}
