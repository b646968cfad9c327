import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleIndicatorBackend } from '../../drivers/indicator/console-backend.ts';
import { createIndicator, createIndicatorBackend } from '../../drivers/indicator/factory.ts';
import { KernelLedBackend } from '../../drivers/indicator/kernel-led-backend.ts';
import { OnoffBackend } from '../../drivers/indicator/onoff-backend.ts';
import { type FakeSysfs, makeFakeSysfs } from '../contract/indicator-sysfs.ts';

describe('createIndicator', () => {
  let sys: FakeSysfs | undefined;
  afterEach(() => sys?.remove());

  it('builds the backend the config names', async () => {
    expect(await createIndicatorBackend({ kind: 'console' })).toBeInstanceOf(ConsoleIndicatorBackend);
    expect(await createIndicatorBackend({ kind: 'kernel-led', leds: { green: 'g', red: 'r' } })).toBeInstanceOf(KernelLedBackend);
    const onoff = await createIndicatorBackend({ kind: 'gpio-onoff', pins: { green: 17, red: 27 } });
    expect(onoff).toBeInstanceOf(OnoffBackend);
    expect(onoff.outputs).toEqual(['green', 'red']);
  });

  it('wires a player that shows patterns on the console stream', async () => {
    let text = '';
    const ind = await createIndicator({ kind: 'console' }, { stream: { write: (s: string) => (text += s) } });
    await ind.open();
    ind.show('busy');
    expect(text).toBe('● BUSY               green ◌ 100/100\n');
    await ind.close();
  });

  it('drives kernel LEDs end to end', async () => {
    sys = makeFakeSysfs({ leds: { g: 255, r: 255 } });
    const ind = await createIndicator({ kind: 'kernel-led', leds: { green: 'g', red: 'r' }, sysfsRoot: sys.root });
    await ind.open();
    ind.show('ready');
    expect(sys.read('class/leds/g/brightness')).toBe('255');
    await ind.close();
    expect(sys.read('class/leds/g/brightness')).toBe('0');
  });
});
