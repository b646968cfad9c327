import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IndicatorPlayer } from '../../drivers/indicator/player.ts';
import type { IndicatorBackend, Output } from '../../drivers/indicator/types.ts';

export type Observed = 'off' | 'on' | 'blink';

/** A backend under test plus a way to see what the hardware (or its stand-in) shows right now. */
export interface IndicatorSubject {
  backend: IndicatorBackend;
  observe(output: Output): Observed;
  cleanup?(): Promise<void> | void;
}

/**
 * The contract every IndicatorBackend keeps, checked through what an observer sees, not through private state.
 * `factory` is called once per test.
 */
export function indicatorContract(name: string, factory: () => Promise<IndicatorSubject> | IndicatorSubject): void {
  describe(`IndicatorBackend contract: ${name}`, () => {
    let subject: IndicatorSubject;

    beforeEach(async () => {
      vi.useFakeTimers({ now: 1_000_000 });
      subject = await factory();
    });

    afterEach(async () => {
      await subject.backend.close();
      await subject.cleanup?.();
      vi.useRealTimers();
    });

    const leds = () => subject.backend.outputs.filter((o) => o !== 'buzzer');

    it('declares at least green and red, and open() switches every output off', async () => {
      const { backend, observe } = subject;
      expect(backend.outputs).toEqual(expect.arrayContaining(['green', 'red']));
      await backend.open();
      for (const o of backend.outputs) expect(observe(o), o).toBe('off');
    });

    it('set() switches exactly one output on and off', async () => {
      const { backend, observe } = subject;
      await backend.open();
      for (const o of backend.outputs) {
        backend.set(o, true);
        expect(observe(o), `${o} on`).toBe('on');
        for (const other of backend.outputs) if (other !== o) expect(observe(other), `${other} while ${o}`).toBe('off');
        backend.set(o, false);
        expect(observe(o), `${o} off`).toBe('off');
      }
    });

    it('ignores outputs it does not have, without throwing', async () => {
      const { backend } = subject;
      await backend.open();
      const missing = (['green', 'red', 'amber', 'blue', 'buzzer'] as const).filter((o) => !backend.outputs.includes(o));
      for (const o of missing) expect(() => backend.set(o, true)).not.toThrow();
    });

    it('a kernel blink, when offered, is stopped by set()', async () => {
      const { backend, observe } = subject;
      await backend.open();
      const led = leds()[0]!;
      const offloaded = backend.blink?.(led, 100, 100) ?? false;
      expect(observe(led)).toBe(offloaded ? 'blink' : 'off');
      backend.set(led, true);
      expect(observe(led)).toBe('on');
      backend.set(led, false);
      expect(observe(led)).toBe('off');
    });

    it('plays accepted under the player and returns to ready after 1.5 s', async () => {
      const { backend, observe } = subject;
      const player = new IndicatorPlayer({ backend });
      await player.open();
      player.show('ready');
      player.show('accepted');
      expect(observe('green')).toBe('on');
      expect(observe('red')).toBe('off');
      if (backend.outputs.includes('buzzer')) {
        expect(observe('buzzer')).toBe('on');
        vi.advanceTimersByTime(80);
        expect(observe('buzzer')).toBe('off');
        vi.advanceTimersByTime(80);
        expect(observe('buzzer')).toBe('on');
        vi.advanceTimersByTime(80);
        expect(observe('buzzer')).toBe('off');
      }
      vi.advanceTimersByTime(1500);
      expect(player.current).toBe('ready');
      expect(observe('green')).toBe('on');
      expect(observe('red')).toBe('off');
      await player.close();
    });

    it('a declined pattern lights red only, and close() leaves everything off', async () => {
      const { backend, observe } = subject;
      const player = new IndicatorPlayer({ backend });
      await player.open();
      player.show('declined-customer');
      expect(observe('red')).toBe('on');
      expect(observe('green')).toBe('off');
      vi.advanceTimersByTime(300);
      await player.close();
      for (const o of backend.outputs) expect(observe(o), o).toBe('off');
      expect(vi.getTimerCount()).toBe(0);
    });
  });
}
