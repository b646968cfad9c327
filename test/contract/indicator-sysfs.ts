import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp directory laid out like the parts of /sys the indicator backends touch. */
export interface FakeSysfs {
  readonly root: string;
  read(relative: string): string;
  write(relative: string, value: string): void;
  remove(): void;
}

export interface FakeSysfsLayout {
  /** LED class devices: name -> max_brightness. */
  leds?: Record<string, number>;
  /** PWM chips: pwmchipN with channels already exported (`pwmM/{period,duty_cycle,enable}`). */
  pwm?: { chip: number; exported: number[] }[];
  /** GPIO chips under class/gpio: gpiochipN with label/base/ngpio. */
  gpioChips?: { name: string; label: string; base: number; ngpio?: number }[];
}

export function makeFakeSysfs(layout: FakeSysfsLayout): FakeSysfs {
  const root = mkdtempSync(join(tmpdir(), 'indicator-sysfs-'));
  const put = (rel: string, value: string) => {
    const file = join(root, rel);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, value);
  };
  for (const [name, max] of Object.entries(layout.leds ?? {})) {
    put(`class/leds/${name}/brightness`, '0\n');
    put(`class/leds/${name}/max_brightness`, `${max}\n`);
    put(`class/leds/${name}/trigger`, '[none] timer heartbeat\n');
  }
  for (const chip of layout.pwm ?? []) {
    put(`class/pwm/pwmchip${chip.chip}/npwm`, '2\n');
    put(`class/pwm/pwmchip${chip.chip}/export`, '');
    for (const ch of chip.exported) {
      put(`class/pwm/pwmchip${chip.chip}/pwm${ch}/period`, '0\n');
      put(`class/pwm/pwmchip${chip.chip}/pwm${ch}/duty_cycle`, '0\n');
      put(`class/pwm/pwmchip${chip.chip}/pwm${ch}/enable`, '0\n');
    }
  }
  for (const c of layout.gpioChips ?? []) {
    put(`class/gpio/${c.name}/label`, `${c.label}\n`);
    put(`class/gpio/${c.name}/base`, `${c.base}\n`);
    if (c.ngpio !== undefined) put(`class/gpio/${c.name}/ngpio`, `${c.ngpio}\n`);
  }
  if (layout.gpioChips) mkdirSync(join(root, 'class/gpio'), { recursive: true });
  return {
    root,
    read: (rel) => readFileSync(join(root, rel), 'utf8').trim(),
    write: put,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** What a person would see on a kernel LED: the trigger file holds `timer` (or `[timer]` on a real kernel). */
export function observeKernelLed(sys: FakeSysfs, name: string): 'off' | 'on' | 'blink' {
  const trigger = sys.read(`class/leds/${name}/trigger`);
  if (trigger === 'timer' || trigger.includes('[timer]')) return 'blink';
  return Number(sys.read(`class/leds/${name}/brightness`)) > 0 ? 'on' : 'off';
}
