/**
 * A modem network time (NITZ) may narrow the upper clock bound of a box whose system clock is
 * untrusted, but never moves the lower bound or the persisted last-known-good time (issue 5).
 */
import { describe, expect, it } from 'vitest';
import { BoxClock, NETWORK_ALLOWANCE_MS } from '../../device/app/clock.ts';

const DAY = 86400_000;
const LKG = Date.UTC(2026, 10, 20);

function clock(wall: number, lkg: number | undefined = LKG) {
  const saves: number[] = [];
  let mono = 0;
  let w = wall;
  const c = new BoxClock({
    wallNow: () => w,
    monoNow: () => mono,
    loadLastKnownGood: () => lkg,
    saveLastKnownGood: (ms) => {
      saves.push(ms);
    },
    floorMs: 0,
  });
  const tick = (ms: number) => {
    mono += ms;
    w += ms;
  };
  return { c, tick, saves };
}

describe('BoxClock.noteNetworkTime', () => {
  it('narrows the wide upper bound of a box booted in 1970, leaving the lower bound and the last-known-good time alone', () => {
    const { c, saves } = clock(0);
    const before = c.view();
    expect(before.upperMs).toBeGreaterThan(LKG + 7 * DAY);
    const net = LKG + 2 * DAY;
    expect(c.noteNetworkTime(net)).toBe('narrowed');
    expect(c.view()).toEqual({ lowerMs: before.lowerMs, upperMs: net + NETWORK_ALLOWANCE_MS });
    expect(c.nowMs()).toBe(LKG); // the estimate still follows the lower bound
    expect(saves).toEqual([]);
    c.persist();
    expect(saves).toEqual([LKG]); // what is persisted is the unchanged lower bound
  });

  it('the narrowed upper bound advances with monotonic time', () => {
    const { c, tick } = clock(0);
    c.noteNetworkTime(LKG + DAY);
    tick(10_000);
    expect(c.view()).toEqual({ lowerMs: LKG + 10_000, upperMs: LKG + DAY + NETWORK_ALLOWANCE_MS + 10_000 });
  });

  it('never widens: a later, higher network time keeps the tighter bound; a lower one narrows further', () => {
    const { c } = clock(0);
    c.noteNetworkTime(LKG + DAY);
    expect(c.noteNetworkTime(LKG + 3 * DAY)).toBe('not-tighter');
    expect(c.view().upperMs).toBe(LKG + DAY + NETWORK_ALLOWANCE_MS);
    expect(c.noteNetworkTime(LKG + 3600_000)).toBe('narrowed');
    expect(c.view().upperMs).toBe(LKG + 3600_000 + NETWORK_ALLOWANCE_MS);
  });

  it('the upper bound never drops below the lower bound, and a time far behind it (modem RTC without NITZ) is ignored', () => {
    const { c, tick } = clock(0);
    expect(c.noteNetworkTime(Date.UTC(2000, 0, 1))).toBe('behind-lower');
    expect(c.view().upperMs).toBeGreaterThan(LKG + 7 * DAY);
    // Inside the allowance: the bound is max(lower, net + allowance), never below lower.
    expect(c.noteNetworkTime(LKG - NETWORK_ALLOWANCE_MS / 2)).toBe('narrowed');
    expect(c.view().upperMs).toBe(LKG + NETWORK_ALLOWANCE_MS / 2);
    tick(NETWORK_ALLOWANCE_MS); // both bounds move with elapsed time
    expect(c.view().upperMs).toBeGreaterThanOrEqual(c.view().lowerMs);
    expect(c.view().lowerMs).toBe(LKG + NETWORK_ALLOWANCE_MS);
  });

  it('a trusted system clock keeps its own bounds; junk values are refused', () => {
    const { c } = clock(LKG + DAY);
    const before = c.view();
    expect(c.noteNetworkTime(LKG + 3600_000)).toBe('system-clock-trusted');
    expect(c.view()).toEqual(before);
    const untrusted = clock(0).c;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, 0]) expect(untrusted.noteNetworkTime(bad)).toBe('invalid');
  });

  it('signed time still moves the lower bound; a network hint it proves wrong is dropped', () => {
    const { c, saves } = clock(0);
    c.noteNetworkTime(LKG + 3600_000);
    c.applySignedTime(LKG + 10 * DAY); // the network hint was behind the real time
    expect(c.view().lowerMs).toBe(LKG + 10 * DAY);
    expect(c.view().upperMs).toBeGreaterThan(LKG + 10 * DAY + 7 * DAY);
    expect(saves).toEqual([LKG + 10 * DAY]);
    // A consistent hint survives signed time.
    c.noteNetworkTime(LKG + 10 * DAY + 60_000);
    c.applySignedTime(LKG + 10 * DAY + 30_000);
    expect(c.view().upperMs).toBe(LKG + 10 * DAY + 60_000 + NETWORK_ALLOWANCE_MS);
  });
});
