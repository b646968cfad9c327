import { readFileSync } from 'node:fs';
import { it } from 'vitest';
import { ConsoleIndicatorBackend } from '../../drivers/indicator/console-backend.ts';
import { FakeIndicatorBackend } from '../../drivers/indicator/fake.ts';
import { KernelLedBackend } from '../../drivers/indicator/kernel-led-backend.ts';
import { detectGpioChip, OnoffBackend } from '../../drivers/indicator/onoff-backend.ts';
import type { Output } from '../../drivers/indicator/types.ts';
import { indicatorContract, type Observed } from './indicator.contract.ts';
import { makeFakeSysfs, observeKernelLed } from './indicator-sysfs.ts';

indicatorContract('FakeIndicatorBackend (software blink)', () => {
  const backend = new FakeIndicatorBackend();
  return { backend, observe: (o) => backend.state(o) };
});

indicatorContract('FakeIndicatorBackend (kernel blink, no amber)', () => {
  const backend = new FakeIndicatorBackend({ kernelBlink: true, outputs: ['green', 'red', 'buzzer'] });
  return { backend, observe: (o) => backend.state(o) };
});

indicatorContract('ConsoleIndicatorBackend (verbose, into a buffer)', () => {
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(...s.split('\n').filter(Boolean)) };
  const backend = new ConsoleIndicatorBackend({ stream, verbose: true });
  const observe = (o: Output): Observed => {
    for (const line of [...lines].reverse()) {
      if (o === 'buzzer' && line.startsWith('[BEEP] ')) return line === '[BEEP] start' || line.startsWith('[BEEP] start ') ? 'on' : 'off';
      const m = /^\[LED\] (\w+) (ON|OFF|BLINK)/.exec(line);
      if (m && m[1] === o) return m[2] === 'ON' ? 'on' : m[2] === 'OFF' ? 'off' : 'blink';
    }
    return 'off';
  };
  return { backend, observe };
});

const LED_NAMES: Record<Output, string> = {
  green: 'pay-green',
  red: 'pay-red',
  amber: 'pay-amber',
  blue: 'pay-blue',
  buzzer: 'pay-buzzer',
};

indicatorContract('KernelLedBackend (temp sysfs, active buzzer as gpio-led)', () => {
  const sys = makeFakeSysfs({ leds: { 'pay-green': 1, 'pay-red': 255, 'pay-amber': 255, 'pay-buzzer': 1 } });
  const backend = new KernelLedBackend({
    sysfsRoot: sys.root,
    leds: { green: 'pay-green', red: 'pay-red', amber: 'pay-amber', buzzer: 'pay-buzzer' },
  });
  return { backend, observe: (o) => observeKernelLed(sys, LED_NAMES[o]), cleanup: () => sys.remove() };
});

indicatorContract('KernelLedBackend (temp sysfs, passive buzzer on pwmchip0/pwm1)', () => {
  const sys = makeFakeSysfs({ leds: { 'pay-green': 255, 'pay-red': 255 }, pwm: [{ chip: 0, exported: [1] }] });
  const backend = new KernelLedBackend({
    sysfsRoot: sys.root,
    leds: { green: 'pay-green', red: 'pay-red' },
    pwmBuzzer: { chip: 0, channel: 1 },
  });
  const observe = (o: Output): Observed =>
    o === 'buzzer'
      ? sys.read('class/pwm/pwmchip0/pwm1/enable') === '1'
        ? 'on'
        : 'off'
      : observeKernelLed(sys, LED_NAMES[o]);
  return { backend, observe, cleanup: () => sys.remove() };
});

/**
 * Real GPIO through onoff: needs a Raspberry Pi with sysfs GPIO (not Trixie) and LEDs wired to BCM lines.
 * GPIO_CHIP=<gpiochip label, e.g. pinctrl-bcm2711 or pinctrl-rp1>, INDICATOR_PINS=green=17,red=27,buzzer=22.
 */
const gpioChip = process.env['GPIO_CHIP'];
if (gpioChip) {
  const pins = Object.fromEntries(
    (process.env['INDICATOR_PINS'] ?? 'green=17,red=27,buzzer=22').split(',').map((kv) => {
      const [k, v] = kv.split('=');
      return [k, Number(v)];
    }),
  ) as Partial<Record<Output, number>>;
  indicatorContract(`OnoffBackend (real GPIO on ${gpioChip})`, () => {
    const backend = new OnoffBackend({ pins, gpioChipLabel: gpioChip });
    const base = detectGpioChip('/sys', gpioChip).base;
    const observe = (o: Output): Observed =>
      readFileSync(`/sys/class/gpio/gpio${base + (pins[o] ?? -1)}/value`, 'utf8').trim() === '1' ? 'on' : 'off';
    return { backend, observe };
  });
} else {
  it.skip('OnoffBackend on real GPIO: needs a Raspberry Pi with sysfs GPIO and LEDs/buzzer wired; set GPIO_CHIP=<gpiochip label, e.g. pinctrl-bcm2711> and INDICATOR_PINS=green=17,red=27,buzzer=22', () => {});
}
