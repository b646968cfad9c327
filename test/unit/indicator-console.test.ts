import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConsoleIndicatorBackend } from '../../drivers/indicator/console-backend.ts';
import { IndicatorPlayer } from '../../drivers/indicator/player.ts';

function sink(isTTY: boolean) {
  let text = '';
  return { isTTY, write: (s: string) => (text += s), get text() { return text; } };
}

describe('ConsoleIndicatorBackend', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('prints one compact line per pattern, no ANSI when not a TTY', async () => {
    const out = sink(false);
    const player = new IndicatorPlayer({ backend: new ConsoleIndicatorBackend({ stream: out }) });
    await player.open();
    player.show('ready');
    player.show('accepted');
    vi.advanceTimersByTime(1500);
    expect(out.text).toBe('● READY              green ■\n● ACCEPTED           green ■ beep-beep\n● READY              green ■\n');
    expect(out.text).not.toContain('\x1b[');
  });

  it('colours the line on a TTY', () => {
    const out = sink(true);
    new ConsoleIndicatorBackend({ stream: out }).begin('declined-customer', 'red ■ beeeeep');
    expect(out.text).toBe('\x1b[31m●\x1b[0m DECLINED-CUSTOMER  red ■ beeeeep\n');
  });

  it('prints per-toggle detail with verbose, including the beep length', async () => {
    const out = sink(false);
    const player = new IndicatorPlayer({ backend: new ConsoleIndicatorBackend({ stream: out, verbose: true }) });
    await player.open();
    player.show('declined-customer');
    vi.advanceTimersByTime(2500);
    expect(out.text.split('\n').filter((l) => !l.startsWith('●'))).toEqual([
      '[LED] red ON',
      '[BEEP] start high',
      '[BEEP] 800ms',
      '[LED] red OFF',
      '[LED] green ON',
      '',
    ]);
  });

  it('shows blinks as one line, not a line per toggle', async () => {
    const out = sink(false);
    const player = new IndicatorPlayer({ backend: new ConsoleIndicatorBackend({ stream: out, verbose: true }) });
    await player.open();
    player.show('fault');
    vi.advanceTimersByTime(10_000);
    expect(out.text).toBe('● FAULT              red ◌ 100/100\n[LED] red BLINK 100/100\n');
  });
});
