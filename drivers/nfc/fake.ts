/**
 * In-memory NFC reader. `tap(phone)` plays a phone entering the field: every registered onTap callback
 * gets a transmit that hands the command APDU straight to the phone's HCE responder
 * (wallet/lib/nfc-hce.ts), with optional reader limits and faults.
 */
import { BoxError } from '../../device/core/errors.ts';
import type { HceResponder } from '../../wallet/lib/nfc-hce.ts';
import type { NfcReader, NfcStatus, NfcStatusCallback, NfcTap, NfcTapCallback } from './types.ts';

/** Short-APDU limits of an ACR122U: CCID 271 bytes minus the 10-byte header; 256 data + SW back. */
export const ACR122U_LIMITS = { maxCommandBytes: 261, maxResponseBytes: 258 } as const;

export interface FakeNfcReaderOptions {
  readerName?: string;
  /** Reader rejects longer command APDUs (NFC_TRANSMIT_FAILED), like a short-APDU-only reader. */
  maxCommandBytes?: number;
  /** Reader's own response buffer limit; responses longer than min(this, maxLen) fail the transmit. */
  maxResponseBytes?: number;
  /** Status reported on open(). Default: ready with [readerName]. */
  initialStatus?: NfcStatus;
}

export interface FakeTapOptions {
  /** The phone leaves the field: transmit number `removeAfter` (0-based) and later reject NFC_REMOVED. */
  removeAfter?: number;
  /** Transmit number `hangAt` (0-based) never settles (to exercise the exchange's deadline). */
  hangAt?: number;
  /** Rewrites the phone's response to transmit number `index` (corruption, truncation, garbage). */
  corrupt?: (response: Uint8Array, index: number) => Uint8Array;
}

export interface FakeTransmitRecord {
  command: Uint8Array;
  maxResponseLength: number;
  response?: Uint8Array;
  error?: string;
}

/** Anything that answers command APDUs; createHceResponder() returns one. */
export type FakePhone = Pick<HceResponder, 'respond'>;

export class FakeNfcReader implements NfcReader {
  readonly readerName: string;
  /** Every transmit of every tap, in order (test helper). */
  readonly transmits: FakeTransmitRecord[] = [];
  /** Every status emitted (test helper). */
  readonly statuses: NfcStatus[] = [];
  private readonly options: FakeNfcReaderOptions;
  private readonly tapCallbacks: NfcTapCallback[] = [];
  private readonly statusCallbacks: NfcStatusCallback[] = [];
  private isOpen = false;

  constructor(options: FakeNfcReaderOptions = {}) {
    this.options = options;
    this.readerName = options.readerName ?? 'Fake NFC Reader 00 00';
  }

  get opened(): boolean {
    return this.isOpen;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    this.isOpen = true;
    this.setStatus(this.options.initialStatus ?? { state: 'ready', readers: [this.readerName] });
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  onTap(cb: NfcTapCallback): void {
    this.tapCallbacks.push(cb);
  }

  onStatus(cb: NfcStatusCallback): void {
    this.statusCallbacks.push(cb);
  }

  /** Emits a status to the listeners (test helper: pcscd going away, reader unplugged...). */
  setStatus(status: NfcStatus): void {
    if (!this.isOpen) return;
    this.statuses.push(status);
    for (const cb of this.statusCallbacks) cb(status);
  }

  /** A phone enters the field; resolves when every onTap callback (and its promise) is done. */
  async tap(phone: FakePhone, opts: FakeTapOptions = {}): Promise<void> {
    if (!this.isOpen) throw new BoxError('NFC_NOT_OPEN', 'FakeNfcReader.tap: reader is not open');
    let count = 0;
    const transmit = async (apdu: Uint8Array, maxResponseLength: number): Promise<Uint8Array> => {
      const index = count++;
      const record: FakeTransmitRecord = { command: Uint8Array.from(apdu), maxResponseLength };
      this.transmits.push(record);
      const failWith = (code: 'NFC_REMOVED' | 'NFC_TRANSMIT_FAILED', msg: string): never => {
        record.error = code;
        throw new BoxError(code, `FakeNfcReader.transmit: ${msg}`, { retryable: code === 'NFC_REMOVED' });
      };
      if (opts.removeAfter !== undefined && index >= opts.removeAfter) failWith('NFC_REMOVED', 'card was removed');
      if (opts.hangAt === index) return new Promise<Uint8Array>(() => {});
      if (this.options.maxCommandBytes !== undefined && apdu.length > this.options.maxCommandBytes) {
        failWith('NFC_TRANSMIT_FAILED', `command of ${apdu.length} bytes exceeds ${this.options.maxCommandBytes}`);
      }
      let response = phone.respond(Uint8Array.from(apdu));
      if (opts.corrupt) response = opts.corrupt(response, index);
      const limit = Math.min(maxResponseLength, this.options.maxResponseBytes ?? Number.POSITIVE_INFINITY);
      if (response.length > limit) failWith('NFC_TRANSMIT_FAILED', `insufficient buffer: ${response.length} > ${limit}`);
      record.response = Uint8Array.from(response);
      return response;
    };
    const tap: NfcTap = { readerName: this.readerName, transmit };
    for (const cb of this.tapCallbacks) await cb(tap);
  }

  /** Forgets recorded transmits and statuses (test helper). */
  reset(): void {
    this.transmits.length = 0;
    this.statuses.length = 0;
  }
}
