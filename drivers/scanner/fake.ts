import { silentLog } from '../common/log.ts';
import { ScannerEvents } from './scanner-events.ts';
import type { LineListener, Scanner, ScannerStats, ScannerStatus, StatusListener } from './types.ts';

/**
 * In-memory Scanner for tests and for the app's dry runs. Test helpers: emitLine(), emitStatus(),
 * emitDropped(), reset(), and the `opened` flag. Lines emitted while closed are ignored, like a
 * real scanner whose port is not open.
 */
export class FakeScanner implements Scanner {
  #events = new ScannerEvents(silentLog);
  opened = false;
  /** When set, open() rejects with it (to test the caller's error path). */
  openError: Error | undefined;

  async open(): Promise<void> {
    if (this.openError) throw this.openError;
    this.opened = true;
    this.#events.emitStatus({ state: 'connected', attempt: 0 });
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.#events.emitStatus({ state: 'disconnected', attempt: 0 });
  }

  onLine(cb: LineListener): () => void {
    return this.#events.onLine(cb);
  }

  onStatus(cb: StatusListener): () => void {
    return this.#events.onStatus(cb);
  }

  stats(): ScannerStats {
    return this.#events.stats();
  }

  /** Delivers `text` as one scan (returns false and delivers nothing when closed). */
  emitLine(text: string, receivedAtNs: bigint = process.hrtime.bigint()): boolean {
    if (!this.opened) return false;
    this.#events.emitLine(text, { receivedAtNs });
    return true;
  }

  /** Reports a status change; a `connected` after `reconnecting` counts as a reconnect. */
  emitStatus(status: ScannerStatus): void {
    if (status.state === 'connected' && this.#events.status.state === 'reconnecting') this.#events.counters.reconnects++;
    this.#events.emitStatus(status);
  }

  /** Counts a dropped line, as a real driver would for an overflow or invalid bytes. */
  emitDropped(reason: 'overflow' | 'invalid'): void {
    if (reason === 'overflow') this.#events.counters.droppedOverflow++;
    else this.#events.counters.droppedInvalid++;
  }

  /** Forgets listeners, counters and state. */
  reset(): void {
    this.#events = new ScannerEvents(silentLog);
    this.opened = false;
    this.openError = undefined;
  }
}
