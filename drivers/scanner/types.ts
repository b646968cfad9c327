/**
 * The scanner driver interface: types only, like serialport's bindings-interface.
 * A scanner delivers decoded QR text one line at a time. Every implementation (serial line
 * reader, TCP simulator, fake) satisfies it; `test/contract/scanner.contract.ts` checks that.
 */

/** Connection states a scanner reports. `reconnecting` means a retry is scheduled. */
export const ScannerState = {
  connected: 'connected',
  disconnected: 'disconnected',
  reconnecting: 'reconnecting',
} as const;
export type ScannerState = (typeof ScannerState)[keyof typeof ScannerState];

export interface ScannerStatus {
  state: ScannerState;
  /** Reconnect attempt number (1-based) when `state` is `reconnecting`, else 0. */
  attempt: number;
  /** Short reason (error message, path), never scan content. */
  detail?: string;
}

export interface LineMeta {
  /** process.hrtime.bigint() taken when the chunk holding the terminating delimiter arrived. */
  receivedAtNs: bigint;
}

export interface ScannerStats {
  /** Lines delivered to listeners. */
  lines: number;
  /** Lines dropped because they grew past maxLineBytes before a delimiter arrived. */
  droppedOverflow: number;
  /** Lines dropped because they were not valid UTF-8 or held control characters. */
  droppedInvalid: number;
  /** Successful re-opens after a disconnection. */
  reconnects: number;
}

export type LineListener = (line: string, meta: LineMeta) => void;
export type StatusListener = (status: ScannerStatus) => void;

export interface Scanner {
  /** Opens the scanner. Throws BoxError on bad config or when the device cannot be opened the first time. */
  open(): Promise<void>;
  /** Closes the scanner and cancels any pending reconnect. Never throws. */
  close(): Promise<void>;
  /**
   * Registers a listener for scanned lines: UTF-8 text without the delimiter, never empty,
   * without control characters. Identical consecutive lines are each delivered (repeat
   * suppression is the app's job). Returns a function that removes the listener.
   */
  onLine(cb: LineListener): () => void;
  /** Registers a listener for connection state changes. Returns a function that removes it. */
  onStatus(cb: StatusListener): () => void;
  /** A snapshot of the counters. */
  stats(): ScannerStats;
}

/** Delimiters a scanner module can be configured to send after each code. */
export const LINE_DELIMITERS = ['\r', '\n', '\r\n', '\t'] as const;
export type LineDelimiter = (typeof LINE_DELIMITERS)[number];

export const DEFAULT_MAX_LINE_BYTES = 4096;
