/**
 * Connectivity from AT commands on the modem's own AT port.
 *
 * `up` here means "registered" (AT+CEREG? stat 1 home or 5 roaming). Registration does NOT prove a
 * data bearer: the modem can be registered with no PDP context, an APN problem or an exhausted data
 * plan. For a data link, ModemManager's `connected` state (see mmcli.ts) is the better signal. So
 * this driver takes an optional reachability probe; when given, `up` = registered AND the back end
 * answered the probe.
 *
 * Network time: Quectel AT+QLTS=1 (GMT), or SIMCom AT+CCLK? after AT+CTZU=3 (sent at open).
 */
import { type AtChannelOptions, type AtResult, AtChannel } from './at-channel.ts';
import { parseCclk, parseCops, parseCsq, parseQlts, parseRegistration } from './at-parser.ts';
import type { Reachability } from './reachability.ts';
import type { Connectivity, LinkSignal, LinkState } from './types.ts';
import { LinkDownCode } from './types.ts';

export interface AtModemOptions extends AtChannelOptions {
  /**
   * How to read network time. 'quectel': AT+QLTS=1. 'simcom': AT+CTZU=3 at open, then AT+CCLK?.
   * 'auto' (default): AT+QLTS=1, and AT+CCLK? from then on if the modem answers ERROR.
   */
  vendor?: 'quectel' | 'simcom' | 'auto';
  /** When set, `up` also needs a successful probe (registration alone proves no bearer). */
  reachability?: Reachability;
  /** Read network time in every check() (one more command). Default true. */
  timeInCheck?: boolean;
  /** Network times earlier than this are a modem RTC without NITZ. Default 2024-01-01. */
  notBeforeMs?: number;
}

export class AtModem implements Connectivity {
  private readonly channel: AtChannel;
  private opened = false;
  private timeVia: 'qlts' | 'cclk';

  constructor(private readonly opts: AtModemOptions) {
    const vendor = opts.vendor ?? 'auto';
    const init = opts.initCommands ?? ['ATE1', ...(vendor === 'simcom' ? ['AT+CTZU=3'] : [])];
    this.channel = new AtChannel({ ...opts, initCommands: init });
    this.timeVia = vendor === 'simcom' ? 'cclk' : 'qlts';
  }

  /** Counters of the underlying channel (stray/stale lines, timeouts, reconnects). */
  get stats(): Readonly<AtChannel['stats']> {
    return this.channel.stats;
  }

  /** Throws BoxError MODEM_CONFIG / MODEM_OPEN_FAILED / MODEM_DRIVER_MISSING. */
  async open(): Promise<void> {
    await this.channel.open();
    this.opened = true;
  }

  async close(): Promise<void> {
    this.opened = false;
    await this.channel.close();
  }

  /** Send one raw command (diagnostics, CLI). Never rejects. */
  command(cmd: string, timeoutMs?: number): Promise<AtResult> {
    return this.channel.command(cmd, timeoutMs);
  }

  async check(): Promise<LinkState> {
    if (!this.opened) return { up: false, source: 'at', code: LinkDownCode.NotOpen };
    if (!this.channel.connected) return { up: false, source: 'at', code: LinkDownCode.PortDown };
    const reg = await this.channel.command('AT+CEREG?');
    if (!reg.ok) return { up: false, source: 'at', code: failureCode(reg) };
    const info = firstParsed(reg.lines, parseRegistration);
    const state: LinkState = { up: false, source: 'at', registration: info?.registration ?? 'unknown' };

    const signal = await this.signal();
    if (signal !== undefined) state.signal = signal;
    const cops = await this.channel.command('AT+COPS?');
    const op = cops.ok ? firstParsed(cops.lines, parseCops)?.operator : undefined;
    if (op !== undefined) state.operator = op;
    if (this.opts.timeInCheck ?? true) {
      const t = await this.networkTime();
      if (t !== undefined) state.networkTimeMs = t;
    }

    if (info?.registered !== true) return { ...state, code: LinkDownCode.NotRegistered };
    if (this.opts.reachability !== undefined) {
      const probe = await this.opts.reachability.probe();
      if (!probe.ok) return { ...state, code: LinkDownCode.Unreachable };
    }
    return { ...state, up: true };
  }

  /** AT+CSQ; undefined when the modem does not answer or the line is malformed. */
  async signal(): Promise<LinkSignal | undefined> {
    const r = await this.channel.command('AT+CSQ');
    const q = r.ok ? firstParsed(r.lines, parseCsq) : undefined;
    if (q === undefined) return undefined;
    return q.rssiDbm === undefined ? {} : { csq: q.rssi, rssiDbm: q.rssiDbm };
  }

  /** Network (NITZ) time as epoch ms UTC, or undefined when the operator sent none. */
  async networkTime(): Promise<number | undefined> {
    const notBeforeMs = this.opts.notBeforeMs;
    const parseOpts = notBeforeMs === undefined ? {} : { notBeforeMs };
    if (this.timeVia === 'qlts') {
      const r = await this.channel.command('AT+QLTS=1');
      if (r.ok) return firstParsed(r.lines, (l) => parseQlts(l, parseOpts));
      if ((this.opts.vendor ?? 'auto') !== 'auto' || (r.code !== 'ERROR' && r.code !== 'CME_ERROR')) return undefined;
      this.timeVia = 'cclk'; // not a Quectel: fall back to the 27.007 clock from now on
    }
    const r = await this.channel.command('AT+CCLK?');
    return r.ok ? firstParsed(r.lines, (l) => parseCclk(l, parseOpts)) : undefined;
  }
}

function failureCode(r: AtResult & { ok: false }): string {
  switch (r.code) {
    case 'PORT_DOWN':
      return LinkDownCode.PortDown;
    case 'CLOSED':
      return LinkDownCode.NotOpen;
    case 'TIMEOUT':
      return LinkDownCode.NoAnswer;
    case 'ERROR':
    case 'CME_ERROR':
    case 'CMS_ERROR':
      return LinkDownCode.NotRegistered;
  }
}

function firstParsed<T>(lines: string[], parse: (line: string) => T | undefined): T | undefined {
  for (const l of lines) {
    const v = parse(l);
    if (v !== undefined) return v;
  }
  return undefined;
}
