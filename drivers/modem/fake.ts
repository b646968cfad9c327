/** A Connectivity for tests and the desk: state set by hand, calls counted. */
import type { Connectivity, LinkState } from './types.ts';
import { LinkDownCode } from './types.ts';

export class FakeConnectivity implements Connectivity {
  /** Number of calls per method. */
  readonly calls = { open: 0, close: 0, check: 0 };
  private up: boolean;
  private opened = false;
  private networkTimeMs: number | undefined;
  private extra: Partial<Omit<LinkState, 'up' | 'source'>> = {};
  private openError: Error | undefined;

  constructor(init: { up?: boolean; networkTimeMs?: number } = {}) {
    this.up = init.up ?? true;
    this.networkTimeMs = init.networkTimeMs;
  }

  setUp(up: boolean): void {
    this.up = up;
  }

  /** Network time reported by check(); undefined means "no NITZ". */
  setNetworkTime(ms: number | undefined): void {
    this.networkTimeMs = ms;
  }

  /** Extra fields to report (registration, signal, operator, code). */
  setDetails(extra: Partial<Omit<LinkState, 'up' | 'source'>>): void {
    this.extra = { ...extra };
  }

  /** Make the next open() throw this error. */
  failNextOpen(err: Error): void {
    this.openError = err;
  }

  reset(): void {
    this.calls.open = this.calls.close = this.calls.check = 0;
    this.up = true;
    this.networkTimeMs = undefined;
    this.extra = {};
    this.openError = undefined;
  }

  get isOpen(): boolean {
    return this.opened;
  }

  async open(): Promise<void> {
    this.calls.open++;
    const err = this.openError;
    this.openError = undefined;
    if (err !== undefined) throw err;
    this.opened = true;
  }

  async close(): Promise<void> {
    this.calls.close++;
    this.opened = false;
  }

  async check(): Promise<LinkState> {
    this.calls.check++;
    if (!this.opened) return { up: false, source: 'fake', code: LinkDownCode.NotOpen };
    const s: LinkState = { ...this.extra, up: this.up, source: 'fake' };
    if (this.networkTimeMs !== undefined) s.networkTimeMs = this.networkTimeMs;
    if (this.up) delete s.code;
    else s.code ??= LinkDownCode.Fake;
    return s;
  }
}
