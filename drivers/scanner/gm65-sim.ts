import { type ByteTransport, GM65_BAUD_CODES } from './gm65.ts';
import { buildReply, Gm65Type, parseCommand } from './gm65-frame.ts';

export interface Gm65SimOptions {
  /** Baud the module listens at (factory default 9600). */
  baudRate?: number;
  /** Initial zone bytes; unspecified zones read 0. */
  zones?: Record<number, number>;
  firmware?: number;
}

const BAUD_FROM_CODE: Record<number, number> = Object.fromEntries(
  Object.entries(GM65_BAUD_CODES).map(([baud, code]) => [code, Number(baud)]),
);

/**
 * A simulated GM65 module: parses command frames, answers like the module (no reply to a bad
 * frame or at a mismatched baud), keeps zones in RAM and counts EEPROM saves and zone writes.
 * `transport()` returns the host side of the link. Replies are delivered on a microtask.
 */
export class Gm65Simulator {
  readonly zones = new Map<number, number>();
  baudRate: number;
  eepromSaves = 0;
  zoneWrites = 0;
  /** Frames received, valid or not. */
  framesSeen = 0;
  /** When true the module ignores everything (unplugged / wrong device). */
  mute = false;
  #hostBaud = 9600;
  #rx: number[] = [];
  #listeners = new Set<(chunk: Uint8Array) => void>();

  constructor(opts: Gm65SimOptions = {}) {
    this.baudRate = opts.baudRate ?? 9600;
    for (const [k, v] of Object.entries(opts.zones ?? {})) this.zones.set(Number(k), v);
    if (!this.zones.has(0x00e2)) this.zones.set(0x00e2, opts.firmware ?? 0x87);
    if (!this.zones.has(0x002a)) {
      const c = GM65_BAUD_CODES[this.baudRate] ?? 0x0139;
      this.zones.set(0x002a, c & 0xff);
      this.zones.set(0x002b, c >> 8);
    }
  }

  transport(): ByteTransport {
    return {
      write: async (bytes) => this.#receive(bytes),
      onData: (cb) => {
        this.#listeners.add(cb);
        return () => this.#listeners.delete(cb);
      },
      setBaudRate: async (baud) => {
        this.#hostBaud = baud;
      },
    };
  }

  #receive(bytes: Uint8Array): void {
    if (this.mute || this.#hostBaud !== this.baudRate) {
      this.#rx = []; // at the wrong baud the module sees noise and discards it
      return;
    }
    this.#rx.push(...bytes);
    for (;;) {
      const start = this.#rx.indexOf(0x7e);
      if (start < 0) {
        this.#rx = [];
        return;
      }
      this.#rx = this.#rx.slice(start);
      const cmd = parseCommand(Uint8Array.from(this.#rx));
      if (cmd === null) return;
      this.framesSeen++;
      if (cmd === 'bad') {
        this.#rx = this.#rx.slice(1); // no reply to a bad frame
        continue;
      }
      this.#rx = this.#rx.slice(cmd.length);
      this.#execute(cmd.type, cmd.address, cmd.data);
    }
  }

  #execute(type: number, address: number, data: Uint8Array): void {
    switch (type) {
      case Gm65Type.read: {
        const n = data[0] ?? 1;
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) out[i] = this.zones.get(address + i) ?? 0;
        this.#reply(buildReply(out));
        return;
      }
      case Gm65Type.write: {
        for (let i = 0; i < data.length; i++) this.zones.set(address + i, data[i]!);
        this.zoneWrites++;
        this.#reply(buildReply(Uint8Array.of(0x00)));
        if (address === 0x002a && data.length === 2) {
          const baud = BAUD_FROM_CODE[data[0]! | (data[1]! << 8)];
          if (baud) this.baudRate = baud; // switches after acking at the old rate
        }
        return;
      }
      case Gm65Type.save:
        this.eepromSaves++;
        this.#reply(buildReply(Uint8Array.of(0x00)));
        return;
      default:
        return; // unknown type: silence, like the module
    }
  }

  #reply(bytes: Uint8Array): void {
    queueMicrotask(() => {
      for (const cb of this.#listeners) cb(bytes);
    });
  }
}
