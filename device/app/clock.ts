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
 * - A modem network time (NITZ, AT+QLTS / AT+CCLK?) may only NARROW the upper bound while the
 *   system clock is untrusted (noteNetworkTime); it never moves the lower bound or the persisted
 *   last-known-good time, so a fake base station can at worst make fresh codes look early.
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
/** How far the true time may be ahead of a modem network time (NITZ is coarse; some cells lag). */
export const NETWORK_ALLOWANCE_MS = 60 * 60_000;

export type NetworkTimeOutcome = 'narrowed' | 'not-tighter' | 'system-clock-trusted' | 'behind-lower' | 'invalid';

export class BoxClock {
  private baseLowerMs: number;
  private baseMono: number;
  /** Upper bound from a network time (ms at `networkMono`), in RAM only; undefined before any hint. */
  private networkUpperMs: number | undefined;
  private networkMono = 0;

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
    let upperMs = wall >= lowerMs ? wall + SYSTEM_ALLOWANCE_MS : lowerMs + UNKNOWN_ALLOWANCE_MS;
    const network = this.networkUpperNow();
    if (wall < lowerMs && network !== undefined) upperMs = Math.min(upperMs, Math.max(lowerMs, network));
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
    // A network hint the signed time proves wrong (its upper bound is already behind) is dropped.
    const network = this.networkUpperNow();
    if (network !== undefined && network < signedMs) this.networkUpperMs = undefined;
    this.persist();
  }

  /**
   * A modem network time (unauthenticated): while the system clock is untrusted it may tighten the
   * upper bound to networkMs + NETWORK_ALLOWANCE_MS (never below the lower bound, never wider than
   * before). It never changes the lower bound and persists nothing. A time behind the lower bound
   * by more than the allowance (a modem RTC that never got NITZ) is ignored.
   */
  noteNetworkTime(networkMs: number): NetworkTimeOutcome {
    if (!Number.isFinite(networkMs) || networkMs <= 0) return 'invalid';
    const v = this.view();
    if (this.deps.wallNow() >= v.lowerMs) return 'system-clock-trusted';
    if (networkMs + NETWORK_ALLOWANCE_MS < v.lowerMs) return 'behind-lower';
    const candidate = networkMs + NETWORK_ALLOWANCE_MS;
    if (candidate >= v.upperMs) return 'not-tighter';
    this.networkUpperMs = candidate;
    this.networkMono = this.deps.monoNow();
    return 'narrowed';
  }

  /** The network upper bound advanced by the monotonic time elapsed since the hint. */
  private networkUpperNow(): number | undefined {
    return this.networkUpperMs === undefined ? undefined : this.networkUpperMs + (this.deps.monoNow() - this.networkMono);
  }

  /** Persist the current lower bound as the last-known-good time (periodically and at shutdown). */
  persist(): void {
    this.deps.saveLastKnownGood(Math.floor(this.view().lowerMs));
  }
}
