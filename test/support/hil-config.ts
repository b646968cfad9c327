/**
 * Temp-directory layouts for running the built box as a real process: a config file, a state dir,
 * the demo world (merchant, wallet) and optionally a fake sysfs LED tree the kernel-led indicator
 * writes to, so a test can read (or strace) every LED write.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type HilScanner =
  | { kind: 'tcp-sim'; port?: number }
  | { kind: 'serial'; path: string; baudRate?: number; delimiter?: '\r' | '\n' | '\r\n' | '\t'; maxLineBytes?: number };

/** LED class names the kernel-led indicator is configured with (one directory each under class/leds). */
export const HIL_LEDS = { green: 'pay-green', red: 'pay-red', amber: 'pay-amber', buzzer: 'pay-buzzer' } as const;
export type HilLed = keyof typeof HIL_LEDS;

export interface HilConfigOptions {
  /** The scanner section, or a function of the temp dir (for pty links inside it). */
  scanner: HilScanner | ((dir: string) => HilScanner);
  /** 'console' (default) prints `● ACCEPTED ...` lines on stdout; 'kernel-led' writes a fake sysfs tree. */
  indicator?: 'console' | 'kernel-led';
  /** Fixed price of every payment (default "1.00": 200 of them stay under the demo wallet's offline limit). */
  price?: string;
  repeatWindowMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Parent of the temp dir; default os.tmpdir(). */
  parent?: string;
}

export interface HilLayout {
  /** The temp dir holding everything below; `cleanup()` removes it. */
  dir: string;
  configPath: string;
  stateDir: string;
  journalPath: string;
  demoDir: string;
  walletPath: string;
  cardPath: string;
  /** Root of the fake sysfs tree (kernel-led only). */
  sysfsRoot: string | null;
  /** Directory of each LED (kernel-led only). */
  ledDirs: Record<HilLed, string> | null;
  /** The config object that was written (JSON). */
  config: Record<string, unknown>;
  cleanup(): void;
}

/** Lays out `<root>/class/leds/<name>/{brightness,max_brightness,trigger,delay_on,delay_off}` like the gpio-leds driver. */
export function makeFakeLedSysfs(root: string): Record<HilLed, string> {
  const dirs = {} as Record<HilLed, string>;
  for (const [output, name] of Object.entries(HIL_LEDS) as [HilLed, string][]) {
    const dir = join(root, 'class', 'leds', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'brightness'), '0');
    writeFileSync(join(dir, 'max_brightness'), '1');
    writeFileSync(join(dir, 'trigger'), 'none');
    writeFileSync(join(dir, 'delay_on'), '0');
    writeFileSync(join(dir, 'delay_off'), '0');
    dirs[output] = dir;
  }
  return dirs;
}

/** Current brightness of a fake LED ('0' or '1'). */
export function readLed(layout: HilLayout, led: HilLed): string {
  if (!layout.ledDirs) throw new Error(`readLed: layout ${layout.dir} has no kernel-led tree`);
  return readFileSync(join(layout.ledDirs[led], 'brightness'), 'utf8').trim();
}

/**
 * Writes a box config into a fresh temp dir. The state dir is volatile (allowVolatileState: /tmp
 * may be tmpfs) and the demo world lives inside the temp dir, so tests never touch var/.
 */
export function writeHilConfig(opts: HilConfigOptions): HilLayout {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), 'qrpay-hil-'));
  const stateDir = join(dir, 'state');
  const demoDir = join(dir, 'demo');
  let sysfsRoot: string | null = null;
  let ledDirs: Record<HilLed, string> | null = null;
  let indicator: Record<string, unknown> = { kind: 'console' };
  if (opts.indicator === 'kernel-led') {
    sysfsRoot = join(dir, 'sys');
    ledDirs = makeFakeLedSysfs(sysfsRoot);
    indicator = { kind: 'kernel-led', leds: { ...HIL_LEDS }, sysfsRoot };
  }
  const sc = typeof opts.scanner === 'function' ? opts.scanner(dir) : opts.scanner;
  const scanner: Record<string, unknown> =
    sc.kind === 'tcp-sim'
      ? { kind: 'tcp-sim', host: '127.0.0.1', port: sc.port ?? 0 }
      : { kind: 'serial', path: sc.path, baudRate: sc.baudRate ?? 115200, delimiter: sc.delimiter ?? '\r', maxLineBytes: sc.maxLineBytes ?? 4096 };
  const config: Record<string, unknown> = {
    stateDir,
    demo: { dir: demoDir, merchantId: 'HIL-CAFE', displayName: 'HIL Café' },
    currency: 'EUR',
    timezone: 'UTC',
    amount: { mode: 'fixed', price: opts.price ?? '1.00' },
    scanner,
    indicator,
    repeatWindowMs: opts.repeatWindowMs ?? 4000,
    log: { level: opts.logLevel ?? 'info' },
    allowVolatileState: true,
  };
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return {
    dir,
    configPath,
    stateDir,
    journalPath: join(stateDir, 'journal.db'),
    demoDir,
    walletPath: join(demoDir, 'wallet.json'),
    cardPath: join(demoDir, 'merchant-card.txt'),
    sysfsRoot,
    ledDirs,
    config,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
