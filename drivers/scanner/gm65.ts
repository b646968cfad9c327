import { BoxError } from '../../device/core/errors.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { type Log, silentLog } from '../common/log.ts';
import { realTimers, type Timers } from './backoff.ts';
import { buildCommand, Gm65ReplyParser, Gm65Type } from './gm65-frame.ts';

/** The raw byte link the GM65 layer talks over (a serial port opened without line framing). */
export interface ByteTransport {
  write(bytes: Uint8Array): Promise<void>;
  /** Registers a listener for received bytes; returns a function that removes it. */
  onData(cb: (chunk: Uint8Array) => void): () => void;
  setBaudRate(baudRate: number): Promise<void>;
}

/** Configuration zones (HARDWARE.md). */
export const Gm65Zone = {
  /** Bits 1-0: 00 manual, 01 command, 10 continuous, 11 sensor. */
  mode: 0x0000,
  /** 1 = scanning enabled. */
  scanEnable: 0x0002,
  /** 2 bytes, little-endian divisor code. */
  baud: 0x002a,
  /** Bits 6-5: terminator. */
  output: 0x0060,
  /** Firmware (software) version byte. Address from the GM65 manual; verify on new firmware. */
  firmware: 0x00e2,
} as const;

/** Baud register codes (low byte first on the wire). */
export const GM65_BAUD_CODES: Readonly<Record<number, number>> = {
  9600: 0x0139,
  19200: 0x009c,
  38400: 0x004e,
  57600: 0x0034,
  115200: 0x001a,
};

/**
 * Terminator codes for zone 0x0060 bits 6-5. Sources disagree on the default (HARDWARE.md),
 * which is why configure() always sets it explicitly. Check the mapping against your module.
 */
export const GM65_TERMINATORS = { CR: 0b00, CRLF: 0b01, TAB: 0b10, none: 0b11 } as const;
export type Gm65Terminator = keyof typeof GM65_TERMINATORS;

export const GM65_PROBE_BAUDS = [115200, 9600, 57600, 38400, 19200] as const;

export interface Gm65Deps {
  timers?: Timers;
  log?: Log;
  /** Reply timeout per command; a bad frame gets no reply at all. Default 500 ms. */
  timeoutMs?: number;
}

export interface Gm65ConfigureOptions {
  terminator: Gm65Terminator;
  /** Target baud; default 115200. */
  baudRate?: number;
}

export interface Gm65ConfigureResult {
  /** Zones that were written (empty when the module already matched). */
  written: string[];
  saved: boolean;
  firmware: number;
}

/**
 * GM65-family command layer over a ByteTransport. Every command has a timeout and rejects
 * with BoxError('GM65_TIMEOUT', retryable). Meant for setup (probe + configure before the
 * line driver opens the port), so it throws like an open() would.
 */
export class Gm65 {
  readonly #transport: ByteTransport;
  readonly #timers: Timers;
  readonly #log: Log;
  readonly #timeoutMs: number;
  readonly #parser = new Gm65ReplyParser();
  #waiter: ((data: Uint8Array) => void) | undefined;
  // INVARIANT: at most one command is on the wire; `#queue` chains commands so a reply is
  // always matched to the command written last, and `#waiter` is set only while one awaits.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(transport: ByteTransport, deps: Gm65Deps = {}) {
    this.#transport = transport;
    this.#timers = deps.timers ?? realTimers;
    this.#log = (deps.log ?? silentLog).child({ driver: 'scanner.gm65' });
    this.#timeoutMs = deps.timeoutMs ?? 500;
    transport.onData((chunk) => {
      for (const reply of this.#parser.push(chunk)) {
        const w = this.#waiter;
        this.#waiter = undefined;
        if (w) w(reply.data);
        else this.#log.debug({ data: toHex(reply.data) }, 'gm65: unsolicited reply');
      }
    });
  }

  /** Reads `length` bytes from a zone. */
  read(address: number, length = 1): Promise<Uint8Array> {
    return this.#command(buildCommand(Gm65Type.read, address, Uint8Array.of(length)), `read ${hex4(address)}`);
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    await this.#command(buildCommand(Gm65Type.write, address, data), `write ${hex4(address)}`);
  }

  /** Saves the zones to EEPROM (flash wears: call only after a real change). */
  async save(): Promise<void> {
    await this.#command(buildCommand(Gm65Type.save, 0x0000, Uint8Array.of(0x00)), 'save');
  }

  async firmwareVersion(): Promise<number> {
    return (await this.read(Gm65Zone.firmware, 1))[0] ?? 0;
  }

  /** Tries each baud with a read of zone 0x0000; returns the first that answers, or undefined. */
  async probeBaud(bauds: readonly number[] = GM65_PROBE_BAUDS): Promise<number | undefined> {
    for (const baud of bauds) {
      await this.#transport.setBaudRate(baud);
      this.#parser.reset();
      try {
        await this.read(Gm65Zone.mode, 1);
        this.#log.info({ baud }, 'gm65: module answers');
        return baud;
      } catch (e) {
        if (!(e instanceof BoxError && e.code === 'GM65_TIMEOUT')) throw e;
      }
    }
    return undefined;
  }

  /**
   * Continuous mode, scanning enabled, explicit terminator, target baud. Reads every zone and
   * writes only those that differ; saves to EEPROM only if something was written. The
   * transport must already be at the module's current baud (see probeBaud()).
   */
  async configure(opts: Gm65ConfigureOptions): Promise<Gm65ConfigureResult> {
    const baudRate = opts.baudRate ?? 115200;
    const baudCode = GM65_BAUD_CODES[baudRate];
    if (baudCode === undefined) throw new BoxError('GM65_CONFIG', `gm65.configure: unsupported baudRate ${baudRate}`);
    const termBits = GM65_TERMINATORS[opts.terminator];
    if (termBits === undefined) throw new BoxError('GM65_CONFIG', `gm65.configure: unknown terminator ${String(opts.terminator)}`);
    const written: string[] = [];
    const setByte = async (name: string, address: number, next: (cur: number) => number) => {
      const cur = (await this.read(address, 1))[0] ?? 0;
      const want = next(cur) & 0xff;
      if (want !== cur) {
        await this.write(address, Uint8Array.of(want));
        written.push(name);
      }
    };
    await setByte('mode', Gm65Zone.mode, (v) => (v & ~0b11) | 0b10);
    await setByte('scanEnable', Gm65Zone.scanEnable, (v) => v | 0x01);
    await setByte('terminator', Gm65Zone.output, (v) => (v & ~0b0110_0000) | (termBits << 5));
    const firmware = await this.firmwareVersion();

    const curBaud = await this.read(Gm65Zone.baud, 2);
    const wantBaud = Uint8Array.of(baudCode & 0xff, baudCode >> 8);
    if (curBaud[0] !== wantBaud[0] || curBaud[1] !== wantBaud[1]) {
      // The module switches right after this write; its ack may come at either rate, so a
      // missing ack is tolerated and the save below (at the new rate) confirms the change.
      await this.write(Gm65Zone.baud, wantBaud).catch((e: unknown) => {
        if (!(e instanceof BoxError && e.code === 'GM65_TIMEOUT')) throw e;
      });
      await this.#transport.setBaudRate(baudRate);
      this.#parser.reset();
      written.push('baud');
    }
    if (written.length > 0) await this.save();
    this.#log.info({ written, firmware }, 'gm65: configured');
    return { written, saved: written.length > 0, firmware };
  }

  #command(frame: Uint8Array, what: string): Promise<Uint8Array> {
    const run = () => this.#send(frame, what);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  #send(frame: Uint8Array, what: string): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = this.#timers.setTimeout(() => {
        this.#waiter = undefined;
        reject(new BoxError('GM65_TIMEOUT', `gm65.${what}: no reply within ${this.#timeoutMs} ms`, { retryable: true }));
      }, this.#timeoutMs);
      this.#waiter = (data) => {
        this.#timers.clearTimeout(timer);
        resolve(data);
      };
      this.#transport.write(frame).catch((e: unknown) => {
        this.#timers.clearTimeout(timer);
        this.#waiter = undefined;
        reject(new BoxError('GM65_IO', `gm65.${what}: write failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      });
    });
  }
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
