import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoxError } from '../../device/core/errors.ts';
import type { Log } from '../common/log.ts';
import { rateLimited, silentLog } from '../common/log.ts';
import type { IndicatorBackend, Output } from './types.ts';

/** The part of onoff's Gpio this backend uses. */
export interface OnoffGpio {
  writeSync(value: 0 | 1): void;
  unexport(): void;
}
export interface OnoffModule {
  Gpio: {
    new (gpio: number, direction: 'out' | 'high' | 'low', edge?: 'none', options?: { activeLow?: boolean }): OnoffGpio;
    accessible?: boolean;
  };
}

/** Labels of the Raspberry Pi SoC GPIO chips, in order of preference. */
export const PI_GPIO_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface GpioChipInfo {
  readonly chip: string;
  readonly label: string;
  readonly base: number;
  readonly ngpio: number | null;
}

const TRIXIE_HINT =
  'sysfs GPIO is gone on Raspberry Pi OS Trixie: use the kernel LED backend (dtoverlay=gpio-led) instead';

/**
 * Finds the sysfs number of BCM line 0: reads `<sysfsRoot>/class/gpio/gpiochip*\/{label,base,ngpio}` and
 * picks the chip labelled `label` (or the first Pi SoC label found). Kernels >= 6.6 number chips
 * dynamically (512 on a Pi 4, 571 on a Pi 5, 0 on old kernels), so the base is never hard-coded.
 */
export function detectGpioChip(sysfsRoot = '/sys', label?: string): GpioChipInfo {
  const dir = join(sysfsRoot, 'class', 'gpio');
  if (!existsSync(dir)) {
    throw new BoxError('INDICATOR_HW_MISSING', `onoff.detectGpioChip: no ${dir}; ${TRIXIE_HINT}`);
  }
  const chips: GpioChipInfo[] = [];
  for (const entry of readdirSync(dir)) {
    if (!entry.startsWith('gpiochip')) continue;
    const read = (f: string) => {
      try {
        return readFileSync(join(dir, entry, f), 'utf8').trim();
      } catch {
        return null;
      }
    };
    const chipLabel = read('label');
    const base = Number.parseInt(read('base') ?? '', 10);
    const ngpio = Number.parseInt(read('ngpio') ?? '', 10);
    if (chipLabel === null || !Number.isInteger(base)) continue;
    chips.push({ chip: entry, label: chipLabel, base, ngpio: Number.isInteger(ngpio) ? ngpio : null });
  }
  const wanted = label !== undefined ? [label] : PI_GPIO_LABELS;
  for (const l of wanted) {
    const found = chips.find((c) => c.label === l);
    if (found) return found;
  }
  const seen = chips.map((c) => `${c.chip}=${JSON.stringify(c.label)}`).join(', ') || 'none';
  throw new BoxError(
    'INDICATOR_HW_MISSING',
    `onoff.detectGpioChip: no gpiochip labelled ${wanted.map((l) => JSON.stringify(l)).join(' or ')} in ${dir} (found: ${seen}); set gpioChipLabel`,
  );
}

export interface OnoffBackendOptions {
  /** BCM line offsets (the numbers on a Pi pinout), e.g. `{ green: 17, red: 27, buzzer: 22 }`. */
  pins: Partial<Record<Output, number>>;
  /** Outputs wired active-low (LED to 3V3). */
  activeLow?: Partial<Record<Output, boolean>>;
  /** gpiochip label to use; default the first of PI_GPIO_LABELS present. */
  gpioChipLabel?: string;
  /** Default '/sys'; tests pass a temp dir laid out like sysfs. onoff itself always uses /sys. */
  sysfsRoot?: string;
  log?: Log;
  /** Default `import('onoff')`; tests inject a fake module. */
  loadOnoff?: () => Promise<OnoffModule>;
}

/** The default loader: a lazy `import('onoff')` (a native addon via epoll; optional dependency). */
export async function importOnoff(): Promise<OnoffModule> {
  const m = (await import('onoff')) as unknown as OnoffModule & { default?: OnoffModule };
  return m.Gpio ? m : m.default!;
}

/** LEDs and an active buzzer on GPIO lines through onoff (sysfs GPIO). Blinks in software only. */
export class OnoffBackend implements IndicatorBackend {
  readonly outputs: readonly Output[];
  writeErrors = 0;
  /** The chip found at open(), for diagnostics. */
  chip: GpioChipInfo | null = null;
  private readonly opts: OnoffBackendOptions;
  private readonly log: Log;
  private readonly warn: ReturnType<typeof rateLimited>;
  private readonly lines = new Map<Output, OnoffGpio>();

  constructor(opts: OnoffBackendOptions) {
    this.opts = opts;
    this.outputs = Object.keys(opts.pins) as Output[];
    this.log = opts.log ?? silentLog;
    this.warn = rateLimited(this.log, 60_000, 5);
  }

  async open(): Promise<void> {
    const chip = detectGpioChip(this.opts.sysfsRoot ?? '/sys', this.opts.gpioChipLabel);
    for (const [output, pin] of Object.entries(this.opts.pins) as [Output, unknown][]) {
      const max = chip.ngpio ?? 64;
      if (typeof pin !== 'number' || !Number.isInteger(pin) || pin < 0 || pin >= max) {
        throw new BoxError(
          'INDICATOR_CONFIG',
          `onoff.open: expected BCM line 0..${max - 1} for ${output}, got ${JSON.stringify(pin)}`,
        );
      }
    }
    let onoff: OnoffModule;
    try {
      onoff = await (this.opts.loadOnoff ?? importOnoff)();
    } catch (e) {
      throw new BoxError('INDICATOR_MODULE_MISSING', `onoff.open: cannot load onoff (npm i onoff); ${TRIXIE_HINT}`, {
        cause: e,
      });
    }
    if (onoff.Gpio.accessible === false) {
      throw new BoxError('INDICATOR_HW_MISSING', `onoff.open: GPIO not accessible (user in group gpio?); ${TRIXIE_HINT}`);
    }
    this.chip = chip;
    for (const [output, pin] of Object.entries(this.opts.pins) as [Output, number][]) {
      const gpio = chip.base + pin;
      try {
        this.lines.set(output, new onoff.Gpio(gpio, 'low', 'none', { activeLow: this.opts.activeLow?.[output] ?? false }));
      } catch (e) {
        for (const l of this.lines.values()) l.unexport();
        this.lines.clear();
        throw new BoxError('INDICATOR_HW_MISSING', `onoff.open: cannot export gpio ${gpio} (BCM ${pin}) for ${output}`, {
          cause: e,
        });
      }
    }
    this.log.info({ chip: chip.chip, label: chip.label, base: chip.base }, 'indicator gpio chip');
  }

  set(output: Output, on: boolean): void {
    const line = this.lines.get(output);
    if (!line) return;
    try {
      line.writeSync(on ? 1 : 0);
    } catch (e) {
      this.writeErrors++;
      this.warn('warn', { output, err: (e as Error).message }, 'onoff.set: gpio write failed');
    }
  }

  async close(): Promise<void> {
    for (const [output, line] of this.lines) {
      this.set(output, false);
      try {
        line.unexport();
      } catch {
        // Already gone; nothing to release.
      }
    }
    this.lines.clear();
  }
}
