import type { Log } from '../common/log.ts';
import type { LineListener, LineMeta, ScannerStats, ScannerStatus, StatusListener } from './types.ts';

/**
 * Listener lists and counters shared by every Scanner implementation.
 * A listener that throws is logged and does not stop delivery to the others.
 */
export class ScannerEvents {
  readonly #lineListeners = new Set<LineListener>();
  readonly #statusListeners = new Set<StatusListener>();
  readonly #log: Log;
  readonly counters: ScannerStats = { lines: 0, droppedOverflow: 0, droppedInvalid: 0, reconnects: 0 };
  #last: ScannerStatus = { state: 'disconnected', attempt: 0 };

  constructor(log: Log) {
    this.#log = log;
  }

  onLine(cb: LineListener): () => void {
    this.#lineListeners.add(cb);
    return () => this.#lineListeners.delete(cb);
  }

  onStatus(cb: StatusListener): () => void {
    this.#statusListeners.add(cb);
    return () => this.#statusListeners.delete(cb);
  }

  get status(): ScannerStatus {
    return this.#last;
  }

  emitLine(line: string, meta: LineMeta): void {
    this.counters.lines++;
    for (const cb of this.#lineListeners) {
      try {
        cb(line, meta);
      } catch (e) {
        this.#log.error({ err: errorMessage(e) }, 'scanner: line listener threw');
      }
    }
  }

  emitStatus(status: ScannerStatus): void {
    this.#last = status;
    for (const cb of this.#statusListeners) {
      try {
        cb(status);
      } catch (e) {
        this.#log.error({ err: errorMessage(e) }, 'scanner: status listener threw');
      }
    }
  }

  stats(): ScannerStats {
    return { ...this.counters };
  }

  resetCounters(): void {
    this.counters.lines = 0;
    this.counters.droppedOverflow = 0;
    this.counters.droppedInvalid = 0;
    this.counters.reconnects = 0;
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
