/**
 * NfcReader over nfc-pcsc (pcscd + libccid). Loads nfc-pcsc lazily, and never constructs `new NFC()`
 * unless the pcscd socket answers (see pcscd-probe.ts: without pcscd that constructor blocks forever).
 * While pcscd is absent it reports 'no-pcscd' and re-probes with backoff, so a pcscd started later is
 * picked up; when pcscd dies it tears down and goes back to probing.
 */
import { BoxError } from '../../device/core/errors.ts';
import { type Log, rateLimited } from '../common/log.ts';
import { defaultPcscdSocketPath, type PcscdProbe, probePcscdSocket } from './pcscd-probe.ts';
import { toTransmitError } from './transmit-errors.ts';
import type { NfcReader, NfcStatus, NfcStatusCallback, NfcTap, NfcTapCallback } from './types.ts';

/** The slice of nfc-pcsc@0.8 we use (the package ships no types). */
export interface PcscCardReaderLike {
  readonly name: string;
  autoProcessing: boolean;
  on(event: 'card', cb: (card: { atr?: Uint8Array }) => void): unknown;
  on(event: 'card.off' | 'end', cb: () => void): unknown;
  on(event: 'error', cb: (err: unknown) => void): unknown;
  transmit(data: Buffer, responseMaxLength: number): Promise<Buffer>;
}
export interface PcscNfcLike {
  on(event: 'reader', cb: (reader: PcscCardReaderLike) => void): unknown;
  on(event: 'error', cb: (err: unknown) => void): unknown;
  close(): void;
}
export interface NfcPcscModule {
  NFC: new () => PcscNfcLike;
}

export interface PcscTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface PcscNfcReaderOptions {
  log: Log;
  /** pcscd client socket; default PCSCLITE_CSOCK_NAME or /run/pcscd/pcscd.comm. */
  socketPath?: string;
  probeTimeoutMs?: number;
  /** Re-probe delays while pcscd is absent: initialMs doubling up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  timers?: PcscTimers;
  probe?: PcscdProbe;
  /** Test seam; default `import('nfc-pcsc')`. */
  loadModule?: () => Promise<NfcPcscModule>;
}

const INSTALL_HINT = 'install it with `apt install libpcsclite-dev pcscd libccid` and `npm i nfc-pcsc`';

async function importNfcPcsc(): Promise<NfcPcscModule> {
  const specifier = 'nfc-pcsc'; // a variable: the package ships no .d.ts, and bundlers must keep it external
  const mod = (await import(specifier)) as { NFC?: unknown; default?: { NFC?: unknown } };
  const NFC = mod.NFC ?? mod.default?.NFC;
  if (typeof NFC !== 'function') throw new Error('nfc-pcsc exports no NFC class');
  return { NFC: NFC as NfcPcscModule['NFC'] };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class PcscNfcReader implements NfcReader {
  private readonly log: Log;
  /** Reader errors can repeat every poll on a flaky USB reader: at most 5 lines a minute (SD wear). */
  private readonly noisy: ReturnType<typeof rateLimited>;
  private readonly socketPath: string;
  private readonly probeTimeoutMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly timers: PcscTimers;
  private readonly probe: PcscdProbe;
  private readonly loadModule: () => Promise<NfcPcscModule>;
  private readonly tapCallbacks: NfcTapCallback[] = [];
  private readonly statusCallbacks: NfcStatusCallback[] = [];
  private readonly readers = new Set<string>();
  private module: NfcPcscModule | undefined;
  private nfc: PcscNfcLike | undefined;
  private state: 'closed' | 'open' = 'closed';
  private retryTimer: unknown;
  private nextDelayMs: number;
  private lastStatusKey = '';

  constructor(options: PcscNfcReaderOptions) {
    this.log = options.log.child({ driver: 'nfc-pcsc' });
    this.noisy = rateLimited(this.log, 60_000, 5);
    this.socketPath = options.socketPath ?? defaultPcscdSocketPath();
    this.probeTimeoutMs = options.probeTimeoutMs ?? 500;
    this.backoff = options.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.timers = options.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.probe = options.probe ?? probePcscdSocket;
    this.loadModule = options.loadModule ?? importNfcPcsc;
    this.nextDelayMs = this.backoff.initialMs;
  }

  /** Throws BoxError NFC_DRIVER_MISSING when nfc-pcsc cannot be loaded; pcscd absence is a status, not a throw. */
  async open(): Promise<void> {
    if (this.state === 'open') return;
    try {
      this.module = await this.loadModule();
    } catch (e) {
      throw new BoxError('NFC_DRIVER_MISSING', `PcscNfcReader.open: cannot load nfc-pcsc (${errText(e)}); ${INSTALL_HINT}`, {
        cause: e,
      });
    }
    this.state = 'open';
    this.nextDelayMs = this.backoff.initialMs;
    await this.connect();
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.cancelRetry();
    this.teardown();
  }

  onTap(cb: NfcTapCallback): void {
    this.tapCallbacks.push(cb);
  }

  onStatus(cb: NfcStatusCallback): void {
    this.statusCallbacks.push(cb);
  }

  private emitStatus(status: NfcStatus): void {
    if (this.state !== 'open') return;
    const key = JSON.stringify(status);
    if (key === this.lastStatusKey) return;
    this.lastStatusKey = key;
    this.log.info({ state: status.state, readers: status.readers, code: status.code }, 'nfc status');
    for (const cb of this.statusCallbacks) {
      try {
        cb(status);
      } catch (e) {
        this.log.error({ err: errText(e) }, 'nfc status callback threw');
      }
    }
  }

  private readerStatus(): NfcStatus {
    const readers = [...this.readers].sort();
    return { state: readers.length > 0 ? 'ready' : 'no-reader', readers };
  }

  /** Probe pcscd; construct NFC only when it answers. */
  private async connect(): Promise<void> {
    if (this.state !== 'open' || this.nfc) return;
    const probed = await this.probe(this.socketPath, this.probeTimeoutMs);
    if (this.state !== 'open' || this.nfc) return;
    if (!probed.reachable) {
      this.log.debug({ socketPath: this.socketPath, reason: probed.reason }, 'pcscd not reachable');
      this.emitStatus({ state: 'no-pcscd', readers: [], code: 'NFC_NO_PCSCD' });
      this.scheduleRetry();
      return;
    }
    const { NFC } = this.module!;
    let nfc: PcscNfcLike;
    try {
      nfc = new NFC();
    } catch (e) {
      // e.g. SCARD_E_NO_ACCESS from a polkit rule rejecting our service user
      this.log.error({ err: errText(e) }, 'nfc-pcsc constructor failed');
      this.emitStatus({ state: 'error', readers: [], code: 'NFC_PCSC_ERROR' });
      this.scheduleRetry();
      return;
    }
    this.nfc = nfc;
    this.nextDelayMs = this.backoff.initialMs;
    nfc.on('error', (e) => this.onPcscError(nfc, e));
    nfc.on('reader', (r) => this.attachReader(nfc, r));
    this.emitStatus(this.readerStatus());
  }

  private onPcscError(nfc: PcscNfcLike, e: unknown): void {
    // After close() pcsclite reports "Command cancelled": expected, not news.
    if (this.nfc !== nfc || this.state !== 'open') {
      this.log.debug({ err: errText(e) }, 'pcsc error after close');
      return;
    }
    this.log.warn({ code: 'NFC_PCSC_ERROR', err: errText(e) }, 'pcsc context failed; re-probing pcscd');
    this.teardown();
    this.emitStatus({ state: 'no-pcscd', readers: [], code: 'NFC_PCSC_ERROR' });
    this.scheduleRetry();
  }

  private attachReader(nfc: PcscNfcLike, reader: PcscCardReaderLike): void {
    const name = String(reader.name);
    try {
      reader.autoProcessing = false;
      reader.on('error', (e) => this.noisy('warn', { code: 'NFC_READER_ERROR', reader: name, err: errText(e) }, 'reader error'));
      reader.on('end', () => {
        this.log.info({ reader: name }, 'reader detached');
        this.readers.delete(name);
        if (this.nfc === nfc) this.emitStatus(this.readerStatus());
      });
      reader.on('card.off', () => this.log.debug({ reader: name }, 'card left the field'));
      reader.on('card', (card) => this.dispatchTap(reader, name, card));
    } catch (e) {
      this.log.error({ code: 'NFC_READER_ERROR', reader: name, err: errText(e) }, 'cannot attach reader');
      return;
    }
    this.log.info({ reader: name }, 'reader attached');
    this.readers.add(name);
    this.emitStatus(this.readerStatus());
  }

  private dispatchTap(reader: PcscCardReaderLike, name: string, card: { atr?: Uint8Array } | undefined): void {
    if (this.state !== 'open') return;
    const where = `PcscNfcReader.transmit(${name})`;
    const transmit = async (apdu: Uint8Array, maxLen: number): Promise<Uint8Array> => {
      let response: unknown;
      try {
        // nfc-pcsc throws synchronously when the card is already gone: keep it inside the try.
        response = await reader.transmit(Buffer.from(apdu), maxLen);
      } catch (e) {
        throw toTransmitError(where, e);
      }
      if (!(response instanceof Uint8Array)) {
        throw new BoxError('NFC_TRANSMIT_FAILED', `${where}: reader returned ${typeof response}, not bytes`);
      }
      return Uint8Array.from(response);
    };
    const atr = card?.atr instanceof Uint8Array ? Uint8Array.from(card.atr) : undefined;
    const tap: NfcTap = atr ? { readerName: name, atr, transmit } : { readerName: name, transmit };
    for (const cb of this.tapCallbacks) {
      try {
        const r = cb(tap);
        if (r instanceof Promise) {
          r.catch((e: unknown) => this.log.error({ reader: name, err: errText(e) }, 'nfc tap callback rejected'));
        }
      } catch (e) {
        this.log.error({ reader: name, err: errText(e) }, 'nfc tap callback threw');
      }
    }
  }

  private scheduleRetry(): void {
    if (this.state !== 'open') return;
    this.cancelRetry();
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.backoff.maxMs, this.nextDelayMs * 2);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch((e: unknown) => {
        this.log.error({ err: errText(e) }, 'nfc reconnect failed');
        this.scheduleRetry();
      });
    }, delay);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private teardown(): void {
    const nfc = this.nfc;
    this.nfc = undefined;
    this.readers.clear();
    this.lastStatusKey = '';
    if (!nfc) return;
    try {
      nfc.close();
    } catch (e) {
      this.log.warn({ err: errText(e) }, 'nfc-pcsc close failed');
    }
  }
}
