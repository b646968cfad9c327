/**
 * The NFC reader driver interface (types only). Implementations: pcsc-reader.ts (nfc-pcsc over pcscd)
 * and fake.ts (drives the wallet's HCE responder in memory).
 */

/**
 * Sends one command APDU to the phone in the field and resolves with its response (data || SW1 SW2).
 * Rejects with a BoxError whose code is one of NfcTransmitErrorCode.
 */
export type NfcTransmit = (apdu: Uint8Array, maxResponseLength: number) => Promise<Uint8Array>;

export type NfcTransmitErrorCode = 'NFC_REMOVED' | 'NFC_TIMEOUT' | 'NFC_TRANSMIT_FAILED';

/** A phone (or card) entered the field of `readerName` and is connected. */
export interface NfcTap {
  readerName: string;
  /** Answer-to-reset bytes reported by the reader, when known (never needed by the exchange). */
  atr?: Uint8Array;
  transmit: NfcTransmit;
}

export type NfcReaderState = 'no-pcscd' | 'no-reader' | 'ready' | 'error';

export interface NfcStatus {
  state: NfcReaderState;
  /** Names of the attached readers ('ready' iff non-empty). */
  readers: string[];
  /** Stable reason code for 'no-pcscd' and 'error' (e.g. NFC_NO_PCSCD, NFC_PCSC_ERROR). */
  code?: string;
}

export type NfcTapCallback = (tap: NfcTap) => void | Promise<void>;
export type NfcStatusCallback = (status: NfcStatus) => void;

export interface NfcReader {
  /** The only method that throws (e.g. NFC_DRIVER_MISSING when nfc-pcsc is not installed). */
  open(): Promise<void>;
  /** Idempotent; no callback fires after it resolves. */
  close(): Promise<void>;
  onTap(cb: NfcTapCallback): void;
  onStatus(cb: NfcStatusCallback): void;
}
