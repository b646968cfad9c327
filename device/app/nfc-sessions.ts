/**
 * Live NFC sessions, in RAM only: a session expires after its TTL, is erased when a code uses it,
 * and vanishes with a restart. Recently closed key ids are remembered (bounded) so a late code gets
 * SESSION_EXPIRED rather than WRONG_MERCHANT.
 */
import type { NfcSession, SessionView } from '../core/views.ts';

const MAX_LIVE = 16;
const MAX_CLOSED = 256;

export class NfcSessionStore implements SessionView {
  private readonly live = new Map<string, NfcSession>();
  private readonly closed = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  add(session: NfcSession): void {
    this.sweep();
    while (this.live.size >= MAX_LIVE) {
      const oldest = this.live.keys().next().value as string;
      this.close(oldest);
    }
    this.live.set(session.keyIdHex, session);
  }

  get(keyIdHex: string): NfcSession | undefined {
    this.sweep();
    return this.live.get(keyIdHex);
  }

  recentlyClosed(keyIdHex: string): boolean {
    return this.closed.has(keyIdHex);
  }

  /** Erase one session (used, or its charge was cancelled). */
  close(keyIdHex: string): void {
    const s = this.live.get(keyIdHex);
    if (s) s.challenge.fill(0);
    this.live.delete(keyIdHex);
    this.closed.set(keyIdHex, this.now());
    while (this.closed.size > MAX_CLOSED) this.closed.delete(this.closed.keys().next().value as string);
  }

  /** Erase every session bound to a charge (on cancel or a new charge). */
  closeForCharge(chargeId: string): void {
    for (const [k, s] of this.live) if (s.chargeId === chargeId) this.close(k);
  }

  get size(): number {
    return this.live.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.live) if (s.expiresAtMs < t) this.close(k);
  }
}
