/**
 * Connectivity from ModemManager via `mmcli -m any -J`. Only generic.state "connected" means up:
 * a bearer is active. "registered" means attached to the network with no data bearer, so it is down.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BoxError } from '../../device/core/errors.ts';
import { type Log, silentLog } from '../common/log.ts';
import type { Connectivity, LinkState, Registration } from './types.ts';
import { LinkDownCode } from './types.ts';

/** Runs a program; rejects on a non-zero exit, a timeout or a missing binary (err.code ENOENT). */
export type ExecFn = (file: string, args: string[], opts: { timeout: number }) => Promise<{ stdout: string }>;

const defaultExec: ExecFn = async (file, args, opts) => {
  const { stdout } = await promisify(execFile)(file, args, { timeout: opts.timeout, encoding: 'utf8' });
  return { stdout };
};

export interface MmcliOptions {
  /** Modem selector, default 'any'. */
  modem?: string;
  /** Default 'mmcli'. */
  bin?: string;
  /** Per invocation, default 5000 ms. */
  timeoutMs?: number;
  /** Also run `mmcli -m any --time -J` in check(). Default true. */
  timeInCheck?: boolean;
  exec?: ExecFn;
  log?: Log;
}

/** The fields of `mmcli -m any -J` this driver reads. */
export interface MmcliStatus {
  state: string;
  registration?: Registration;
  operator?: string;
  /** signal-quality.value, percent. */
  percent?: number;
}

const REGISTRATION: Record<string, Registration> = {
  home: 'home',
  roaming: 'roaming',
  searching: 'searching',
  denied: 'denied',
  idle: 'not-registered',
  unknown: 'unknown',
};

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' && v !== '--' ? v : undefined;
}

/** Parse `mmcli -m <x> -J` output; undefined when it is not the expected JSON. Never throws. */
export function parseMmcliModem(stdout: string): MmcliStatus | undefined {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  const modem = obj(obj(json)?.['modem']);
  const generic = obj(modem?.['generic']);
  const state = str(generic?.['state']);
  if (state === undefined) return undefined;
  const out: MmcliStatus = { state };
  const gpp = obj(modem?.['3gpp']);
  const reg = str(gpp?.['registration-state']);
  if (reg !== undefined) out.registration = REGISTRATION[reg] ?? 'unknown';
  const op = str(gpp?.['operator-name']) ?? str(gpp?.['operator-code']);
  if (op !== undefined) out.operator = op;
  const q = str(obj(generic?.['signal-quality'])?.['value']);
  if (q !== undefined && /^\d{1,3}$/.test(q) && Number(q) <= 100) out.percent = Number(q);
  return out;
}

/** Parse `mmcli -m <x> --time -J` (modem.time.current, ISO 8601); undefined when absent. */
export function parseMmcliTime(stdout: string): number | undefined {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  const current = str(obj(obj(obj(json)?.['modem'])?.['time'])?.['current']);
  if (current === undefined || !/^\d{4}-\d{2}-\d{2}T/.test(current)) return undefined;
  const ms = Date.parse(current);
  return Number.isFinite(ms) ? ms : undefined;
}

export class MmcliConnectivity implements Connectivity {
  private readonly exec: ExecFn;
  private readonly log: Log;
  private opened = false;

  constructor(private readonly opts: MmcliOptions = {}) {
    this.exec = opts.exec ?? defaultExec;
    this.log = (opts.log ?? silentLog).child({ driver: 'modem-mmcli' });
  }

  /** Checks that mmcli runs; throws BoxError MODEM_DRIVER_MISSING when it is not installed. */
  async open(): Promise<void> {
    const bin = this.opts.bin ?? 'mmcli';
    try {
      await this.exec(bin, ['--version'], { timeout: this.opts.timeoutMs ?? 5000 });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new BoxError(
        'MODEM_DRIVER_MISSING',
        code === 'ENOENT'
          ? `mmcli.open: ${JSON.stringify(bin)} not found (apt install modemmanager)`
          : `mmcli.open: ${JSON.stringify(bin)} --version failed: ${(e as Error).message}`,
        { cause: e },
      );
    }
    this.opened = true;
  }

  async close(): Promise<void> {
    this.opened = false;
  }

  async check(): Promise<LinkState> {
    if (!this.opened) return { up: false, source: 'mmcli', code: LinkDownCode.NotOpen };
    const out = await this.run(['-J']);
    if (out === undefined) return { up: false, source: 'mmcli', code: LinkDownCode.NoModem };
    const st = parseMmcliModem(out);
    if (st === undefined) {
      this.log.warn({ bytes: out.length }, 'mmcli: unexpected output');
      return { up: false, source: 'mmcli', code: LinkDownCode.BadOutput };
    }
    const state: LinkState = { up: st.state === 'connected', source: 'mmcli' };
    if (st.registration !== undefined) state.registration = st.registration;
    if (st.operator !== undefined) state.operator = st.operator;
    if (st.percent !== undefined) state.signal = { percent: st.percent };
    if (this.opts.timeInCheck ?? true) {
      const t = await this.run(['--time', '-J']);
      const ms = t === undefined ? undefined : parseMmcliTime(t);
      if (ms !== undefined) state.networkTimeMs = ms;
    }
    if (!state.up) state.code = LinkDownCode.NotConnected;
    return state;
  }

  /** Runs mmcli for the configured modem; undefined when it fails (no modem, timeout, daemon down). */
  private async run(args: string[]): Promise<string | undefined> {
    const bin = this.opts.bin ?? 'mmcli';
    try {
      const { stdout } = await this.exec(bin, ['-m', this.opts.modem ?? 'any', ...args], {
        timeout: this.opts.timeoutMs ?? 5000,
      });
      return stdout;
    } catch (e) {
      this.log.debug({ args, err: (e as Error).message }, 'mmcli: failed');
      return undefined;
    }
  }
}
