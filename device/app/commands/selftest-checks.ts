/**
 * The individual self-test checks. Each takes what it inspects as an argument (driver, file
 * reader, command runner), so the service (over its live drivers) and the standalone command
 * (which opens the hardware itself) share them, and tests drive them with fakes.
 */
import { closeSync, existsSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_PATTERNS, type Indicator } from '../../../drivers/indicator/types.ts';
import type { PcscdProbe } from '../../../drivers/nfc/pcscd-probe.ts';
import type { ScannerStatus } from '../../../drivers/scanner/types.ts';
import { diskSpace, lowDiskWarning } from '../../journal/storage-safety.ts';
import type { SelftestCheck } from './selftest-report.ts';

export type Sleep = (ms: number) => Promise<void>;

/** Shows every indicator pattern in turn (the accepted/declined ones sound the buzzer). */
export async function checkIndicator(indicator: Indicator, kind: string, patternMs: number, sleep: Sleep): Promise<SelftestCheck> {
  for (const p of ALL_PATTERNS) {
    indicator.show(p);
    await sleep(patternMs);
  }
  indicator.show('ready');
  const simulated = kind === 'console';
  return {
    name: 'indicator',
    ok: true,
    fatal: true,
    detail: simulated
      ? `console indicator (simulated): cycled ${ALL_PATTERNS.length} patterns`
      : `${kind}: cycled ${ALL_PATTERNS.length} patterns (${ALL_PATTERNS.join(', ')}); watch every LED light and hear the buzzer on accepted/declined`,
    ...(simulated ? { simulated: true } : {}),
  };
}

/** Inside the service: the scanner driver holds the port; report its live state. */
export function checkScannerLive(kind: string, status: ScannerStatus | undefined, lines: number): SelftestCheck {
  const simulated = kind === 'tcp-sim';
  const state = status?.state ?? 'unknown';
  return {
    name: 'scanner',
    ok: state === 'connected',
    fatal: true,
    detail: `${simulated ? 'tcp-sim scanner (simulated)' : kind} ${state}${status?.detail ? ` (${status.detail})` : ''}, ${lines} lines read since start`,
    ...(simulated ? { simulated: true } : {}),
  };
}

export interface Gm65Pinger {
  /** Resolves with the firmware byte, or undefined when no baud answered. */
  ping(): Promise<{ baud: number; firmware: number } | undefined>;
}

export async function checkScannerGm65(path: string, pinger: Gm65Pinger): Promise<SelftestCheck> {
  const r = await pinger.ping();
  if (!r) return { name: 'scanner', ok: false, fatal: true, detail: `GM65 on ${path} does not answer the version command at any baud (wiring, power, TX/RX swapped?)` };
  return { name: 'scanner', ok: true, fatal: true, detail: `GM65 on ${path} answers at ${r.baud} baud, firmware 0x${r.firmware.toString(16).padStart(2, '0')}` };
}

/** Any other module: the technician scans a test code within `timeoutMs`. */
export async function checkScannerTestScan(path: string, waitForLine: (timeoutMs: number) => Promise<string | undefined>, timeoutMs: number): Promise<SelftestCheck> {
  const line = await waitForLine(timeoutMs);
  if (line === undefined) return { name: 'scanner', ok: false, fatal: true, detail: `no scan from ${path} within ${Math.round(timeoutMs / 1000)} s (scan any QR code during the self-test)` };
  return { name: 'scanner', ok: true, fatal: true, detail: `test scan read from ${path} (${line.length} chars)` };
}

export async function checkNfc(socketPath: string, probe: PcscdProbe, readers?: () => Promise<string[]>): Promise<SelftestCheck> {
  const r = await probe(socketPath, 1000);
  if (!r.reachable) return { name: 'nfc', ok: false, fatal: false, detail: `pcscd not reachable at ${socketPath} (${r.reason}): NFC payments off, QR still works` };
  if (!readers) return { name: 'nfc', ok: true, fatal: false, detail: `pcscd reachable at ${socketPath}` };
  const names = await readers();
  return names.length > 0
    ? { name: 'nfc', ok: true, fatal: false, detail: `reader present: ${names.join(', ')}` }
    : { name: 'nfc', ok: false, fatal: false, detail: 'pcscd runs but sees no reader (USB cable, pn533 blacklist, libccid)' };
}

export interface AtPort {
  command(cmd: string, timeoutMs?: number): Promise<{ ok: boolean; lines: string[] }>;
}

export async function checkModem(path: string, port: AtPort | undefined): Promise<SelftestCheck> {
  if (!port) return { name: 'modem', ok: !existsSync(path), fatal: false, skipped: !existsSync(path), detail: `no modem AT port at ${path} (fine with a Wi-Fi or Ethernet uplink)` };
  const at = await port.command('AT', 2000);
  if (!at.ok) return { name: 'modem', ok: false, fatal: false, detail: `modem on ${path} does not answer AT` };
  const csq = await port.command('AT+CSQ', 2000);
  const m = csq.ok ? /\+CSQ:\s*(\d+),/.exec(csq.lines.join('\n')) : null;
  const v = m ? Number(m[1]) : 99;
  if (v === 99) return { name: 'modem', ok: false, fatal: false, detail: `modem on ${path} answers AT but reports no signal (antenna, SIM)` };
  return { name: 'modem', ok: true, fatal: false, detail: `modem on ${path} answers AT, signal ${-113 + 2 * v} dBm (CSQ ${v})` };
}

/** The state directory takes an fsync'd write, the journal is intact, the disk has room. */
export function checkStorage(stateDir: string, integrity: () => string | undefined, lowDiskBytes: number): SelftestCheck[] {
  const out: SelftestCheck[] = [];
  if (!existsSync(stateDir)) {
    return [{ name: 'journal.writable', ok: false, fatal: true, detail: `state directory ${stateDir} does not exist (install.sh not run, or wrong config)` }];
  }
  const probe = join(stateDir, `.selftest-${process.pid}`);
  try {
    const fd = openSync(probe, 'w', 0o600);
    try {
      writeSync(fd, 'selftest\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    unlinkSync(probe);
    out.push({ name: 'journal.writable', ok: true, fatal: true, detail: `${stateDir} takes fsync'd writes` });
  } catch (e) {
    out.push({ name: 'journal.writable', ok: false, fatal: true, detail: `cannot write to ${stateDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
  }
  const result = integrity();
  out.push(
    result === undefined
      ? { name: 'journal.integrity', ok: true, fatal: true, detail: 'no journal yet (created at first start)' }
      : { name: 'journal.integrity', ok: result === 'ok', fatal: true, detail: result === 'ok' ? 'PRAGMA integrity_check: ok' : `PRAGMA integrity_check: ${result.slice(0, 200)}` },
  );
  const space = diskSpace(stateDir);
  const warn = lowDiskWarning(space, { minFreeBytes: lowDiskBytes });
  out.push({ name: 'disk.free', ok: warn === undefined, fatal: true, detail: warn ?? `${(space.freeBytes / 1048576).toFixed(0)} MiB free` });
  return out;
}

export function checkClock(view: { lowerMs: number; upperMs: number }, trusted: boolean): SelftestCheck {
  return {
    name: 'clock',
    ok: trusted,
    fatal: false,
    detail: trusted
      ? `system clock agrees with the last known good time (${new Date(view.lowerMs).toISOString()})`
      : `system clock is behind the last known good time ${new Date(view.lowerMs).toISOString()}: no NTP/NITZ yet; payments use the clock bounds`,
  };
}

export function checkKeys(load: () => { serial: number; notAfterSec: number; merchantId: string }, nowMs: number, warnDays = 14): SelftestCheck {
  const c = load();
  const days = Math.floor((c.notAfterSec * 1000 - nowMs) / 86400_000);
  return {
    name: 'keys',
    ok: days >= 0,
    fatal: true,
    detail: `keys and identity card ${c.serial} for ${c.merchantId} valid, ${days} days left${days < warnDays ? ' (renew soon: scanner provision --rotate)' : ''}`,
  };
}

export async function checkBackend(url: string | undefined, probe: (url: string) => Promise<number>): Promise<SelftestCheck> {
  if (url === undefined) return { name: 'backend', ok: false, fatal: false, skipped: true, detail: 'no back end provisioned (demo or offline enrolment)' };
  try {
    const status = await probe(url);
    return { name: 'backend', ok: status < 500, fatal: false, detail: `${url} answered HTTP ${status}` };
  } catch (e) {
    return { name: 'backend', ok: false, fatal: false, detail: `${url} unreachable (${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}); payments are kept until it is back` };
  }
}

/** Raspberry Pi firmware throttling flags (vcgencmd get_throttled). */
export const THROTTLE_BITS = {
  underVoltageNow: 1 << 0,
  freqCappedNow: 1 << 1,
  throttledNow: 1 << 2,
  softTempLimitNow: 1 << 3,
  underVoltageOccurred: 1 << 16,
  freqCappedOccurred: 1 << 17,
  throttledOccurred: 1 << 18,
  softTempLimitOccurred: 1 << 19,
} as const;

/** Parses "throttled=0x50005" or a bare "0x50005" / "327685". */
export function parseThrottled(text: string): number | undefined {
  const m = /(?:throttled=)?(0x[0-9a-fA-F]+|\d+)/.exec(text.trim());
  if (!m) return undefined;
  const v = Number(m[1]);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** Under-voltage right now is fatal (SD card writes may corrupt); past events and throttling warn. */
export function checkPower(raw: string | undefined): SelftestCheck {
  if (raw === undefined) return { name: 'power', ok: true, fatal: false, skipped: true, detail: 'not a Pi (no vcgencmd, no get_throttled)' };
  const v = parseThrottled(raw);
  if (v === undefined) return { name: 'power', ok: false, fatal: false, detail: `cannot parse throttling flags ${JSON.stringify(raw.slice(0, 40))}` };
  const names = Object.entries(THROTTLE_BITS)
    .filter(([, bit]) => (v & bit) !== 0)
    .map(([n]) => n);
  const hex = `0x${v.toString(16)}`;
  if (v & THROTTLE_BITS.underVoltageNow) {
    return { name: 'power', ok: false, fatal: true, detail: `UNDER-VOLTAGE now (${hex}: ${names.join(', ')}): use the official 5.1 V supply and a short thick cable` };
  }
  if (v === 0) return { name: 'power', ok: true, fatal: false, detail: 'no under-voltage or throttling since boot (0x0)' };
  return { name: 'power', ok: false, fatal: false, detail: `${hex}: ${names.join(', ')} (since boot; check the supply and cooling)` };
}
