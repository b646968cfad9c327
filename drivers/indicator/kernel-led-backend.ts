import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoxError } from '../../device/core/errors.ts';
import type { Log } from '../common/log.ts';
import { rateLimited, silentLog } from '../common/log.ts';
import type { IndicatorBackend, Output, Tone } from './types.ts';

/** A passive buzzer on a PWM channel: `<sysfsRoot>/class/pwm/pwmchip<chip>/pwm<channel>`. */
export interface PwmBuzzerConfig {
  chip: number;
  channel: number;
  /** Default 2700 Hz (the resonance of most 12 mm piezo buzzers). */
  highHz?: number;
  /** Default 1500 Hz. */
  lowHz?: number;
}

export interface KernelLedBackendOptions {
  /**
   * LED class device names, e.g. `{ green: 'pay-green', red: 'pay-red', buzzer: 'pay-buzzer' }` for
   * `dtoverlay=gpio-led,gpio=17,label=pay-green`. An active buzzer can be a gpio-led too.
   */
  leds: Partial<Record<Output, string>>;
  /** Passive buzzer on PWM instead of `leds.buzzer` (`dtoverlay=pwm-2chan`). */
  pwmBuzzer?: PwmBuzzerConfig;
  /** Default '/sys'; tests pass a temp dir laid out like sysfs. */
  sysfsRoot?: string;
  log?: Log;
}

interface Led {
  readonly dir: string;
  max: number;
  blinking: boolean;
}

/**
 * Drives LEDs through the kernel LED class (gpio-leds): brightness to switch, the `timer` trigger to blink
 * in the kernel (blinking goes on if Node stalls). Needs no native module and works on Raspberry Pi OS Trixie.
 */
export class KernelLedBackend implements IndicatorBackend {
  readonly outputs: readonly Output[];
  /** Failed sysfs writes since open (set() never throws). */
  writeErrors = 0;
  private readonly root: string;
  private readonly names: Partial<Record<Output, string>>;
  private readonly pwm: PwmBuzzerConfig | undefined;
  private readonly log: Log;
  private readonly warn: ReturnType<typeof rateLimited>;
  private readonly leds = new Map<Output, Led>();
  private pwmDir: string | null = null;
  private pwmTone: Tone | null = null;

  constructor(opts: KernelLedBackendOptions) {
    this.root = opts.sysfsRoot ?? '/sys';
    this.names = opts.leds;
    this.pwm = opts.pwmBuzzer;
    this.log = opts.log ?? silentLog;
    this.warn = rateLimited(this.log, 60_000, 5);
    const outs = Object.keys(opts.leds) as Output[];
    if (this.pwm && !outs.includes('buzzer')) outs.push('buzzer');
    this.outputs = outs;
  }

  async open(): Promise<void> {
    if (this.pwm && this.names.buzzer !== undefined) {
      throw new BoxError('INDICATOR_CONFIG', 'kernelLed.open: set either leds.buzzer or pwmBuzzer, not both');
    }
    for (const [output, name] of Object.entries(this.names) as [Output, string][]) {
      if (typeof name !== 'string' || name === '' || name.includes('/')) {
        throw new BoxError('INDICATOR_CONFIG', `kernelLed.open: expected LED name for ${output}, got ${JSON.stringify(name)}`);
      }
      const dir = join(this.root, 'class', 'leds', name);
      if (!existsSync(join(dir, 'brightness'))) {
        throw new BoxError(
          'INDICATOR_HW_MISSING',
          `kernelLed.open: no LED "${name}" for ${output} at ${dir} (add dtoverlay=gpio-led,gpio=<BCM>,label=${name} to config.txt)`,
        );
      }
      const led: Led = { dir, max: readMax(dir), blinking: false };
      this.openWrite(join(dir, 'trigger'), 'none');
      this.openWrite(join(dir, 'brightness'), '0');
      this.leds.set(output, led);
    }
    if (this.pwm) this.pwmDir = this.openPwm(this.pwm);
  }

  set(output: Output, on: boolean, tone?: Tone): void {
    if (output === 'buzzer' && this.pwmDir !== null) {
      this.setPwm(on, tone ?? 'high');
      return;
    }
    const led = this.leds.get(output);
    if (!led) return;
    if (led.blinking) {
      this.write(join(led.dir, 'trigger'), 'none');
      led.blinking = false;
    }
    this.write(join(led.dir, 'brightness'), on ? String(led.max) : '0');
  }

  blink(output: Output, onMs: number, offMs: number): boolean {
    const led = this.leds.get(output);
    if (!led) return false;
    const ok =
      this.write(join(led.dir, 'trigger'), 'timer') &&
      this.write(join(led.dir, 'delay_on'), String(Math.round(onMs))) &&
      this.write(join(led.dir, 'delay_off'), String(Math.round(offMs)));
    led.blinking = ok;
    return ok;
  }

  async close(): Promise<void> {
    for (const output of this.leds.keys()) this.set(output, false);
    if (this.pwmDir !== null) this.write(join(this.pwmDir, 'enable'), '0');
    this.leds.clear();
    this.pwmDir = null;
    this.pwmTone = null;
  }

  private openPwm(cfg: PwmBuzzerConfig): string {
    const chipDir = join(this.root, 'class', 'pwm', `pwmchip${cfg.chip}`);
    if (!existsSync(chipDir)) {
      throw new BoxError(
        'INDICATOR_HW_MISSING',
        `kernelLed.open: no PWM chip at ${chipDir} (add dtoverlay=pwm-2chan to config.txt for a passive buzzer)`,
      );
    }
    const dir = join(chipDir, `pwm${cfg.channel}`);
    if (!existsSync(dir)) this.openWrite(join(chipDir, 'export'), String(cfg.channel));
    if (!existsSync(join(dir, 'period'))) {
      throw new BoxError('INDICATOR_HW_MISSING', `kernelLed.open: PWM channel ${cfg.channel} did not appear at ${dir}`);
    }
    this.openWrite(join(dir, 'enable'), '0');
    return dir;
  }

  private setPwm(on: boolean, tone: Tone): void {
    const dir = this.pwmDir!;
    if (!on) {
      this.write(join(dir, 'enable'), '0');
      return;
    }
    if (this.pwmTone !== tone) {
      const hz = tone === 'low' ? (this.pwm?.lowHz ?? 1500) : (this.pwm?.highHz ?? 2700);
      const period = Math.round(1e9 / hz);
      // duty_cycle must never exceed period: clear it before changing the period.
      const ok =
        this.write(join(dir, 'duty_cycle'), '0') &&
        this.write(join(dir, 'period'), String(period)) &&
        this.write(join(dir, 'duty_cycle'), String(Math.round(period / 2)));
      this.pwmTone = ok ? tone : null;
    }
    this.write(join(dir, 'enable'), '1');
  }

  private openWrite(file: string, value: string): void {
    try {
      writeFileSync(file, value);
    } catch (e) {
      throw new BoxError(
        'INDICATOR_HW_MISSING',
        `kernelLed.open: cannot write ${JSON.stringify(value)} to ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}; is the service user allowed? udev rule or SupplementaryGroups=gpio)`,
        { cause: e },
      );
    }
  }

  private write(file: string, value: string): boolean {
    try {
      writeFileSync(file, value);
      return true;
    } catch (e) {
      this.writeErrors++;
      this.warn('warn', { file, code: (e as NodeJS.ErrnoException).code }, 'kernelLed.set: sysfs write failed');
      return false;
    }
  }
}

function readMax(dir: string): number {
  try {
    const n = Number.parseInt(readFileSync(join(dir, 'max_brightness'), 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : 255;
  } catch {
    return 255;
  }
}
