import { describe, expect, it } from 'vitest';
import { BoxClock } from '../../device/app/clock.ts';

const DAY = 86400_000;
const LKG = Date.UTC(2026, 10, 20);

function clock(wall: number, opts: { lkg?: number; floor?: number; synced?: boolean } = {}) {
  let saved: number | undefined;
  let mono = 0;
  let w = wall;
  const c = new BoxClock({
    wallNow: () => w,
    monoNow: () => mono,
    loadLastKnownGood: () => opts.lkg,
    saveLastKnownGood: (ms) => {
      saved = ms;
    },
    floorMs: opts.floor ?? 0,
    systemClockSynced: () => opts.synced ?? false,
  });
  const tick = (ms: number) => {
    mono += ms;
    w += ms;
  };
  return { c, tick, saved: () => saved };
}

describe('BoxClock bounds', () => {
  it('a box booted in 1970 keeps the last-known-good time as its lower bound and a wide upper bound', () => {
    const { c, tick } = clock(0, { lkg: LKG });
    expect(c.trusted()).toBe(false);
    expect(c.view().lowerMs).toBe(LKG);
    expect(c.view().upperMs).toBeGreaterThan(LKG + 7 * DAY);
    tick(5000);
    expect(c.view().lowerMs).toBe(LKG + 5000);
    expect(c.nowMs()).toBe(LKG + 5000);
  });

  it('a sane system clock gives a tight upper bound but never moves the lower bound by itself', () => {
    const { c } = clock(LKG + 2 * DAY, { lkg: LKG });
    expect(c.trusted()).toBe(true);
    expect(c.view().lowerMs).toBe(LKG);
    expect(c.view().upperMs).toBe(LKG + 2 * DAY + 10 * 60_000);
  });

  it('the build floor applies when nothing was persisted', () => {
    const { c } = clock(0, { floor: LKG });
    expect(c.view().lowerMs).toBe(LKG);
  });

  it('signed time moves the lower bound forward, never back, and is persisted', () => {
    const { c, saved } = clock(0, { lkg: LKG });
    c.applySignedTime(LKG + DAY);
    expect(c.view().lowerMs).toBe(LKG + DAY);
    expect(saved()).toBe(LKG + DAY);
    c.applySignedTime(LKG);
    expect(c.view().lowerMs).toBe(LKG + DAY);
  });

  it('an NTP-synchronised system clock raises the lower bound (minus a margin), never lowers it', () => {
    const { c } = clock(LKG + DAY, { lkg: LKG, synced: true });
    expect(c.view().lowerMs).toBe(LKG + DAY - 5000);
    const back = clock(LKG - DAY, { lkg: LKG, synced: true });
    expect(back.c.view().lowerMs).toBe(LKG);
  });

  it('bounds are whole milliseconds even with a fractional monotonic clock (the journal stores integers)', () => {
    let mono = 0.25;
    const c = new BoxClock({ wallNow: () => 0, monoNow: () => mono, loadLastKnownGood: () => LKG, saveLastKnownGood: () => {}, floorMs: 0 });
    mono = 1234.875;
    expect(Number.isInteger(c.view().lowerMs)).toBe(true);
    expect(Number.isInteger(c.view().upperMs)).toBe(true);
    expect(Number.isInteger(c.nowMs())).toBe(true);
  });
});
