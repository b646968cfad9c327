import { afterEach, describe, expect, it } from 'vitest';
import { isBoxError } from '../../device/core/errors.ts';
import { KernelLedBackend } from '../../drivers/indicator/kernel-led-backend.ts';
import { type FakeSysfs, makeFakeSysfs } from '../contract/indicator-sysfs.ts';

describe('KernelLedBackend on a temp sysfs', () => {
  let sys: FakeSysfs | undefined;
  afterEach(() => sys?.remove());

  it('writes max_brightness to switch on and 0 to switch off, after setting trigger none at open', async () => {
    sys = makeFakeSysfs({ leds: { g: 1, r: 255 } });
    sys.write('class/leds/g/brightness', '1'); // left on by a previous run
    const b = new KernelLedBackend({ sysfsRoot: sys.root, leds: { green: 'g', red: 'r' } });
    await b.open();
    expect(sys.read('class/leds/g/trigger')).toBe('none');
    expect(sys.read('class/leds/g/brightness')).toBe('0');
    b.set('green', true);
    b.set('red', true);
    expect(sys.read('class/leds/g/brightness')).toBe('1');
    expect(sys.read('class/leds/r/brightness')).toBe('255');
    b.set('red', false);
    expect(sys.read('class/leds/r/brightness')).toBe('0');
  });

  it('blinks in the kernel with the timer trigger and stops it with trigger none', async () => {
    sys = makeFakeSysfs({ leds: { r: 255 } });
    const b = new KernelLedBackend({ sysfsRoot: sys.root, leds: { red: 'r', green: 'r' } });
    await b.open();
    expect(b.blink('red', 250, 750)).toBe(true);
    expect(sys.read('class/leds/r/trigger')).toBe('timer');
    expect(sys.read('class/leds/r/delay_on')).toBe('250');
    expect(sys.read('class/leds/r/delay_off')).toBe('750');
    b.set('red', true);
    expect(sys.read('class/leds/r/trigger')).toBe('none');
    expect(sys.read('class/leds/r/brightness')).toBe('255');
    expect(b.blink('amber', 1, 1)).toBe(false);
  });

  it('drives a passive buzzer on PWM: 2.7 kHz high, 1.5 kHz low, 50 % duty', async () => {
    sys = makeFakeSysfs({ leds: { g: 255 }, pwm: [{ chip: 2, exported: [0] }] });
    const b = new KernelLedBackend({ sysfsRoot: sys.root, leds: { green: 'g' }, pwmBuzzer: { chip: 2, channel: 0 } });
    expect(b.outputs).toEqual(['green', 'buzzer']);
    await b.open();
    const pwm = 'class/pwm/pwmchip2/pwm0';
    b.set('buzzer', true, 'high');
    expect([sys.read(`${pwm}/period`), sys.read(`${pwm}/duty_cycle`), sys.read(`${pwm}/enable`)]).toEqual(['370370', '185185', '1']);
    b.set('buzzer', false);
    expect(sys.read(`${pwm}/enable`)).toBe('0');
    b.set('buzzer', true, 'low');
    expect([sys.read(`${pwm}/period`), sys.read(`${pwm}/duty_cycle`)]).toEqual(['666667', '333334']);
    expect(b.blink('buzzer', 10, 10)).toBe(false);
    await b.close();
    expect(sys.read(`${pwm}/enable`)).toBe('0');
  });

  it('exports a PWM channel that is not exported yet, and fails clearly when it does not appear', async () => {
    sys = makeFakeSysfs({ leds: { g: 255 }, pwm: [{ chip: 0, exported: [] }] });
    const b = new KernelLedBackend({ sysfsRoot: sys.root, leds: { green: 'g' }, pwmBuzzer: { chip: 0, channel: 1 } });
    const err = await b.open().catch((e: unknown) => e);
    expect(sys.read('class/pwm/pwmchip0/export')).toBe('1');
    expect(isBoxError(err) && err.code).toBe('INDICATOR_HW_MISSING');
    expect((err as Error).message).toMatch(/PWM channel 1 did not appear/);
  });

  it('open() names the missing LED and the overlay to add', async () => {
    sys = makeFakeSysfs({ leds: { g: 255 } });
    const b = new KernelLedBackend({ sysfsRoot: sys.root, leds: { green: 'g', red: 'pay-red' } });
    await expect(b.open()).rejects.toThrow(/no LED "pay-red" for red .*dtoverlay=gpio-led/);
    const noPwm = new KernelLedBackend({ sysfsRoot: sys.root, leds: { green: 'g' }, pwmBuzzer: { chip: 0, channel: 0 } });
    await expect(noPwm.open()).rejects.toThrow(/dtoverlay=pwm-2chan/);
    const both = new KernelLedBackend({ sysfsRoot: sys.root, leds: { buzzer: 'g' }, pwmBuzzer: { chip: 0, channel: 0 } });
    await expect(both.open()).rejects.toThrow(/either leds.buzzer or pwmBuzzer/);
    const traversal = new KernelLedBackend({ sysfsRoot: sys.root, leds: { green: '../g' } });
    await expect(traversal.open()).rejects.toThrow(/expected LED name for green, got "..\/g"/);
  });

  it('counts a failed write instead of throwing from set()', async () => {
    sys = makeFakeSysfs({ leds: { g: 255 } });
    const b = new KernelLedBackend({ sysfsRoot: sys.root, leds: { green: 'g' } });
    await b.open();
    sys.remove(); // the LED vanished (overlay unloaded)
    expect(() => b.set('green', true)).not.toThrow();
    expect(b.writeErrors).toBe(1);
    sys = undefined;
  });
});
