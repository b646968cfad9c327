import { afterEach, describe, expect, it } from 'vitest';
import { isBoxError } from '../../device/core/errors.ts';
import { detectGpioChip, importOnoff, OnoffBackend, type OnoffModule } from '../../drivers/indicator/onoff-backend.ts';
import { type FakeSysfs, makeFakeSysfs } from '../contract/indicator-sysfs.ts';

/** A stand-in for onoff that records the sysfs GPIO numbers it was asked for. */
function fakeOnoff(accessible = true) {
  const lines = new Map<number, { value: number; activeLow: boolean; exported: boolean }>();
  const mod: OnoffModule = {
    Gpio: Object.assign(
      class {
        private readonly n: number;
        constructor(n: number, direction: string, _edge?: string, opts?: { activeLow?: boolean }) {
          this.n = n;
          lines.set(n, { value: direction === 'high' ? 1 : 0, activeLow: opts?.activeLow ?? false, exported: true });
        }
        writeSync(v: 0 | 1) {
          lines.get(this.n)!.value = v;
        }
        unexport() {
          lines.get(this.n)!.exported = false;
        }
      },
      { accessible },
    ),
  };
  return { mod, lines };
}

describe('detectGpioChip on a temp sysfs', () => {
  let sys: FakeSysfs | undefined;
  afterEach(() => sys?.remove());

  it('finds the Pi 4 base 512 on kernel >= 6.6', () => {
    sys = makeFakeSysfs({
      gpioChips: [
        { name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
        { name: 'gpiochip570', label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 },
      ],
    });
    expect(detectGpioChip(sys.root)).toEqual({ chip: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 });
  });

  it('finds the Pi 5 RP1 base 571 among other chips', () => {
    sys = makeFakeSysfs({
      gpioChips: [
        { name: 'gpiochip512', label: 'gpio-brcmstb@107d508500', base: 512, ngpio: 32 },
        { name: 'gpiochip544', label: 'gpio-brcmstb@107d508520', base: 544, ngpio: 15 },
        { name: 'gpiochip571', label: 'pinctrl-rp1', base: 571, ngpio: 54 },
      ],
    });
    expect(detectGpioChip(sys.root).base).toBe(571);
  });

  it('finds base 0 on an old kernel and honours a configured label', () => {
    sys = makeFakeSysfs({
      gpioChips: [
        { name: 'gpiochip0', label: 'pinctrl-bcm2835', base: 0, ngpio: 54 },
        { name: 'gpiochip100', label: 'my-expander', base: 100 },
      ],
    });
    expect(detectGpioChip(sys.root).base).toBe(0);
    expect(detectGpioChip(sys.root, 'my-expander')).toMatchObject({ base: 100, ngpio: null });
  });

  it('explains a missing class/gpio (Trixie) and an unknown label', () => {
    sys = makeFakeSysfs({});
    expect(() => detectGpioChip(sys!.root)).toThrow(/Trixie.*kernel LED backend/);
    sys.remove();
    sys = makeFakeSysfs({ gpioChips: [{ name: 'gpiochip0', label: 'other', base: 0 }] });
    expect(() => detectGpioChip(sys!.root)).toThrow(/no gpiochip labelled "pinctrl-rp1" or .*found: gpiochip0="other"/);
  });
});

describe('OnoffBackend with an injected onoff', () => {
  let sys: FakeSysfs | undefined;
  afterEach(() => sys?.remove());

  it('exports base + BCM offset and writes the lines', async () => {
    sys = makeFakeSysfs({ gpioChips: [{ name: 'gpiochip571', label: 'pinctrl-rp1', base: 571, ngpio: 54 }] });
    const { mod, lines } = fakeOnoff();
    const b = new OnoffBackend({
      sysfsRoot: sys.root,
      pins: { green: 17, red: 27, buzzer: 22 },
      activeLow: { red: true },
      loadOnoff: async () => mod,
    });
    await b.open();
    expect([...lines.keys()].sort()).toEqual([571 + 17, 571 + 22, 571 + 27]);
    expect(lines.get(598)!.activeLow).toBe(true);
    b.set('green', true);
    expect(lines.get(588)!.value).toBe(1);
    b.set('amber', true); // not wired: ignored
    await b.close();
    expect([...lines.values()].every((l) => l.value === 0 && !l.exported)).toBe(true);
  });

  it('names npm i onoff and the Trixie alternative when onoff cannot load', async () => {
    sys = makeFakeSysfs({ gpioChips: [{ name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512 }] });
    const b = new OnoffBackend({
      sysfsRoot: sys.root,
      pins: { green: 17, red: 27 },
      loadOnoff: async () => {
        throw new Error("Cannot find package 'onoff'");
      },
    });
    const err = await b.open().catch((e: unknown) => e);
    expect(isBoxError(err) && err.code).toBe('INDICATOR_MODULE_MISSING');
    expect((err as Error).message).toMatch(/npm i onoff.*Trixie.*kernel LED backend/);
  });

  it('rejects a pin outside the chip and an inaccessible GPIO', async () => {
    sys = makeFakeSysfs({ gpioChips: [{ name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 }] });
    const bad = new OnoffBackend({ sysfsRoot: sys.root, pins: { green: 512, red: 27 }, loadOnoff: async () => fakeOnoff().mod });
    await expect(bad.open()).rejects.toThrow('onoff.open: expected BCM line 0..57 for green, got 512');
    const locked = new OnoffBackend({ sysfsRoot: sys.root, pins: { green: 17 }, loadOnoff: async () => fakeOnoff(false).mod });
    await expect(locked.open()).rejects.toThrow(/not accessible/);
  });

  it('loads the real onoff module lazily and finds its Gpio class', async () => {
    const mod = await importOnoff();
    expect(typeof mod.Gpio).toBe('function');
    // Without /sys/class/gpio (this container, Trixie) onoff says so; the backend turns that into a clear error.
    expect(typeof mod.Gpio.accessible).toBe('boolean');
  });
});
