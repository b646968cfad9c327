/**
 * NfcReader over a local socket, for the embedded demo and hardware-in-the-loop tests: the box listens
 * on a unix socket (or TCP on 127.0.0.1); a client that connects is a phone entering the field, the
 * client hanging up is the phone pulled away. test/support/phone-sim.ts is the matching phone.
 *
 * Framing, both directions: u16 big-endian length || that many bytes; one frame = one APDU.
 *   box -> phone (command APDU, the SELECT of drivers/nfc/apdu.ts):
 *     00 0D                                   length 13
 *     00 A4 04 00 07 F0 51 52 50 41 59 01 00  SELECT our AID
 *   phone -> box (response APDU):
 *     00 13                                   length 19
 *     01 <16 nonce bytes> 90 00               version, phone nonce, SW OK
 * The box sends exactly one command and waits for exactly one response (half duplex, like ISO 14443-4);
 * bytes from the phone while no command is outstanding are a protocol fault. A declared length above
 * maxFrameBytes, a response longer than the transmit's maxResponseLength, silence past responseTimeoutMs
 * and unsolicited bytes drop the connection with a coded fault (counted, logged), never a crash.
 * When every onTap callback is done the box ends the connection (field off).
 */
import { lstatSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { BoxError } from '../../device/core/errors.ts';
import type { Log } from '../common/log.ts';
import type { NfcReader, NfcStatus, NfcStatusCallback, NfcTap, NfcTapCallback } from './types.ts';

/** Largest frame either side may declare: a short APDU is at most 261 bytes, a short response 258. */
export const SIM_MAX_FRAME_BYTES = 1024;
export const SIM_READER_NAME = 'QRPAY Socket Sim Reader';

export const SIM_FAULT = {
  /** Declared frame length above maxFrameBytes. */
  FRAME_TOO_LONG: 'NFC_SIM_FRAME_TOO_LONG',
  /** Bytes from the phone while the box had no command outstanding. */
  UNSOLICITED: 'NFC_SIM_UNSOLICITED',
  /** A second phone while one is in the field (one card per field). */
  BUSY: 'NFC_SIM_BUSY',
  /** The phone's socket failed (reset, EPIPE). */
  SOCKET_ERROR: 'NFC_SIM_SOCKET_ERROR',
} as const;

export type SimEndpoint = { path: string } | { host: '127.0.0.1'; port: number };

export interface SocketSimNfcReaderOptions {
  log: Log;
  /** Unix socket path (a stale file there is replaced), or TCP on loopback (port 0 = any). */
  listen: SimEndpoint;
  /** Default SIM_MAX_FRAME_BYTES. */
  maxFrameBytes?: number;
  /** Silence after a command until the transmit fails NFC_TIMEOUT. Default 2000 ms. */
  responseTimeoutMs?: number;
  readerName?: string;
}

/** One frame: u16 BE length || bytes. Throws RangeError on a frame above 0xFFFF (a programming error). */
export function encodeSimFrame(bytes: Uint8Array): Buffer {
  if (bytes.length > 0xffff) throw new RangeError(`encodeSimFrame: expected at most 65535 bytes, got ${bytes.length}`);
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  out.set(bytes, 2);
  return out;
}

export type FrameParse = { kind: 'frame'; frame: Uint8Array; rest: Buffer } | { kind: 'need-more' } | { kind: 'too-long'; declared: number };

/** Takes one frame off the front of `buf`. Never throws. */
export function takeSimFrame(buf: Buffer, maxFrameBytes: number = SIM_MAX_FRAME_BYTES): FrameParse {
  if (buf.length < 2) return { kind: 'need-more' };
  const declared = buf.readUInt16BE(0);
  if (declared > maxFrameBytes) return { kind: 'too-long', declared };
  if (buf.length < 2 + declared) return { kind: 'need-more' };
  return { kind: 'frame', frame: Uint8Array.from(buf.subarray(2, 2 + declared)), rest: buf.subarray(2 + declared) };
}

/** Removes a leftover socket file (a previous run); anything else at that path is left for listen() to refuse. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) rmSync(path, { force: true });
  } catch {
    // nothing there
  }
}

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(e: BoxError): void;
  maxResponseLength: number;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * INVARIANTS: at most one phone (socket) is in the field; at most one transmit is outstanding on it
 * (the exchange awaits each transmit); `pending` is settled exactly once, by a response frame, a fault,
 * the timeout or the socket closing, and the socket is destroyed on every fault.
 */
export class SocketSimNfcReader implements NfcReader {
  private readonly log: Log;
  private readonly maxFrameBytes: number;
  private readonly responseTimeoutMs: number;
  private readonly readerName: string;
  private readonly tapCallbacks: NfcTapCallback[] = [];
  private readonly statusCallbacks: NfcStatusCallback[] = [];
  private server: Server | undefined;
  private current: Socket | undefined;
  private isOpen = false;
  private faultCount = 0;
  private tapCount = 0;

  constructor(private readonly opts: SocketSimNfcReaderOptions) {
    this.log = opts.log;
    this.maxFrameBytes = opts.maxFrameBytes ?? SIM_MAX_FRAME_BYTES;
    this.responseTimeoutMs = opts.responseTimeoutMs ?? 2000;
    this.readerName = opts.readerName ?? SIM_READER_NAME;
  }

  get counts(): { taps: number; faults: number } {
    return { taps: this.tapCount, faults: this.faultCount };
  }

  /** The bound endpoint (the real port when listening on port 0); undefined before open(). */
  get address(): SimEndpoint | undefined {
    const a = this.server?.address();
    if (!a) return undefined;
    return typeof a === 'string' ? { path: a } : { host: '127.0.0.1', port: a.port };
  }

  onTap(cb: NfcTapCallback): void {
    this.tapCallbacks.push(cb);
  }

  onStatus(cb: NfcStatusCallback): void {
    this.statusCallbacks.push(cb);
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    const listen = this.opts.listen;
    if ('path' in listen) removeStaleSocket(listen.path);
    const server = createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new BoxError('NFC_SIM_LISTEN_FAILED', `SocketSimNfcReader.open: cannot listen on ${JSON.stringify(listen)} (${e.code ?? e.message})`, { cause: e })),
      );
      if ('path' in listen) server.listen(listen.path, () => resolve());
      else server.listen(listen.port, listen.host, () => resolve());
    });
    server.on('error', (e) => this.log.warn({ event: 'nfc.sim.error', err: e.message }, 'nfc sim server error'));
    this.server = server;
    this.isOpen = true;
    this.log.info({ event: 'nfc.sim.listening', ...this.address }, 'nfc sim reader listening');
    this.emitStatus({ state: 'ready', readers: [this.readerName] });
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.current?.destroy();
    this.current = undefined;
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    if ('path' in this.opts.listen) removeStaleSocket(this.opts.listen.path);
  }

  private emitStatus(s: NfcStatus): void {
    for (const cb of this.statusCallbacks) {
      try {
        cb(s);
      } catch {
        // a listener's bug must not take the reader down
      }
    }
  }

  private fault(code: string, detail: Record<string, unknown>): void {
    this.faultCount++;
    this.log.warn({ event: 'nfc.sim.fault', code, ...detail }, `nfc sim: ${code}`);
  }

  private onConnection(socket: Socket): void {
    if (!this.isOpen || this.current) {
      this.fault(SIM_FAULT.BUSY, {});
      socket.destroy();
      return;
    }
    this.current = socket;
    this.tapCount++;
    let buf: Buffer = Buffer.alloc(0);
    let pending: Pending | undefined;
    let gone = false;

    const settle = (): Pending | undefined => {
      const p = pending;
      pending = undefined;
      if (p) clearTimeout(p.timer);
      return p;
    };
    const drop = (code: string, detail: Record<string, unknown>, transmitCode: 'NFC_TRANSMIT_FAILED' | 'NFC_TIMEOUT'): void => {
      this.fault(code, detail);
      settle()?.reject(new BoxError(transmitCode, `SocketSimNfcReader.transmit: ${code}`, { retryable: false }));
      socket.destroy();
    };

    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > 2 + this.maxFrameBytes) return drop(SIM_FAULT.FRAME_TOO_LONG, { bytes: buf.length }, 'NFC_TRANSMIT_FAILED');
      const parsed = takeSimFrame(buf, this.maxFrameBytes);
      if (parsed.kind === 'too-long') return drop(SIM_FAULT.FRAME_TOO_LONG, { declared: parsed.declared }, 'NFC_TRANSMIT_FAILED');
      if (!pending) return drop(SIM_FAULT.UNSOLICITED, { bytes: buf.length }, 'NFC_TRANSMIT_FAILED');
      if (parsed.kind === 'need-more') return;
      buf = parsed.rest;
      const p = settle()!;
      if (buf.length > 0) return drop(SIM_FAULT.UNSOLICITED, { bytes: buf.length }, 'NFC_TRANSMIT_FAILED');
      if (parsed.frame.length > p.maxResponseLength) {
        this.fault('NFC_SIM_RESPONSE_TOO_LONG', { bytes: parsed.frame.length, max: p.maxResponseLength });
        p.reject(new BoxError('NFC_TRANSMIT_FAILED', `SocketSimNfcReader.transmit: insufficient buffer (${parsed.frame.length} > ${p.maxResponseLength})`));
        socket.destroy();
        return;
      }
      p.resolve(parsed.frame);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!gone && pending) this.log.debug({ event: 'nfc.sim.socket-error', err: e.code ?? e.message }, 'nfc sim phone socket error');
    });
    socket.on('close', () => {
      gone = true;
      if (this.current === socket) this.current = undefined;
      // The phone left the field: the outstanding command can never be answered.
      settle()?.reject(new BoxError('NFC_REMOVED', 'SocketSimNfcReader.transmit: card was removed (phone disconnected)', { retryable: true }));
    });

    const transmit = (apdu: Uint8Array, maxResponseLength: number): Promise<Uint8Array> =>
      new Promise<Uint8Array>((resolve, reject) => {
        if (gone || socket.destroyed) {
          reject(new BoxError('NFC_REMOVED', 'SocketSimNfcReader.transmit: card was removed (phone disconnected)', { retryable: true }));
          return;
        }
        if (pending) {
          reject(new BoxError('NFC_TRANSMIT_FAILED', 'SocketSimNfcReader.transmit: a command is already outstanding'));
          return;
        }
        if (apdu.length > this.maxFrameBytes) {
          reject(new BoxError('NFC_TRANSMIT_FAILED', `SocketSimNfcReader.transmit: command of ${apdu.length} bytes exceeds ${this.maxFrameBytes}`));
          return;
        }
        const timer = setTimeout(() => drop('NFC_SIM_NO_RESPONSE', { afterMs: this.responseTimeoutMs }, 'NFC_TIMEOUT'), this.responseTimeoutMs);
        pending = { resolve, reject, maxResponseLength, timer };
        socket.write(encodeSimFrame(apdu));
      });

    const tap: NfcTap = { readerName: this.readerName, transmit };
    void this.runTap(tap).finally(() => {
      settle()?.reject(new BoxError('NFC_REMOVED', 'SocketSimNfcReader.transmit: field switched off'));
      if (this.current === socket) this.current = undefined;
      gone = true;
      socket.end();
    });
  }

  private async runTap(tap: NfcTap): Promise<void> {
    for (const cb of this.tapCallbacks) {
      try {
        await cb(tap);
      } catch (e) {
        this.log.warn({ event: 'nfc.sim.tap-error', err: e instanceof Error ? e.message : String(e) }, 'nfc sim: tap callback failed');
      }
    }
  }
}
