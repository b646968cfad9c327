/**
 * From a scanned line to the verdict: decide, commit durably, then signal.
 *
 * INVARIANTS (single writer): handleScan runs synchronously from decide() through the journal
 * commit to the indicator call, so two scans can never interleave on Node's one thread; every
 * decision sees the replay index as left by the previous commit. The accepted pattern is shown
 * only after commitAccept() has returned, i.e. after SQLite's fsync (synchronous=FULL).
 */
import type { Log } from '../../drivers/common/log.ts';
import type { Indicator, Pattern } from '../../drivers/indicator/types.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { type Decision, decide } from '../core/decide.ts';
import { DECLINE, type DeclineCategory, type DeclineCode, declineCategory } from '../core/decline-codes.ts';
import { toHex, utf8 } from '../core/encoding/bytes.ts';
import { isBoxError } from '../core/errors.ts';
import type { AmountSource, KeyStoreView, Policy, RevocationView } from '../core/views.ts';
import type { Journal, LastOutcome } from '../journal/types.ts';
import type { BoxClock } from './clock.ts';

export type ScanOutcome =
  | { kind: 'accept'; debitId: string; amount: number; currency: string; chargeId: string | null; decidedInUs: number }
  | { kind: 'decline'; code: DeclineCode; category: DeclineCategory; detail: string; chargeId: string | null }
  | { kind: 'repeat'; of: LastOutcome };

export interface AcceptorEvents {
  paid?(e: { chargeId: string | null; debitId: string; amount: number; currency: string }): void;
  declined?(e: { chargeId: string | null; code: DeclineCode }): void;
}

export interface AcceptorDeps {
  p: CryptoProvider;
  journal: Journal;
  keys: KeyStoreView;
  issuers: ReadonlyMap<string, Uint8Array>;
  clock: BoxClock;
  indicator: Indicator;
  log: Log;
  policy: Policy;
  repeatWindowMs: number;
  amountSource(): AmountSource;
  revocations(): RevocationView;
  /** Called after an accepted debit used an NFC session (erase it). */
  closeSession(keyIdHex: string): void;
  events?: AcceptorEvents;
}

const PATTERN_FOR: Record<DeclineCategory, Pattern> = {
  customer: 'declined-customer',
  retry: 'declined-retry',
  fault: 'declined-fault',
};

export function patternForOutcome(o: LastOutcome): Pattern {
  return o.kind === 'accept' ? 'accepted' : PATTERN_FOR[declineCategory((o.code ?? DECLINE.MALFORMED) as DeclineCode)];
}

const RECENT_OUTCOMES = 64;

export class Acceptor {
  /**
   * INVARIANTS: a RAM mirror of the outcomes this process wrote to the journal (bounded, newest
   * last), read for the repeat window without a journal query on the hot path. Outcomes written
   * before a restart are read from the journal, which only matters during the first repeat window.
   */
  private readonly recent = new Map<string, LastOutcome>();
  private readonly startedAtMs: number;

  constructor(private readonly d: AcceptorDeps) {
    this.startedAtMs = d.clock.nowMs();
  }

  private remember(o: LastOutcome): void {
    this.recent.delete(o.scanKey);
    this.recent.set(o.scanKey, o);
    if (this.recent.size > RECENT_OUTCOMES) this.recent.delete(this.recent.keys().next().value as string);
  }

  private previousOutcome(scanKey: string, now: number): LastOutcome | undefined {
    const mine = this.recent.get(scanKey);
    if (mine) return mine;
    return now - this.startedAtMs < this.d.repeatWindowMs ? this.d.journal.lastOutcome(scanKey) : undefined;
  }

  /** The journal key of a scanned text: the first 16 bytes of its SHA-256, hex. */
  scanKey(text: string): string {
    return toHex(this.d.p.sha256(utf8.encode(text)).subarray(0, 16));
  }

  handleScan(text: string): ScanOutcome {
    const { journal, clock, log } = this.d;
    const scanKey = this.scanKey(text);
    const now = clock.nowMs();

    const previous = this.previousOutcome(scanKey, now);
    if (previous && now - previous.atMs >= 0 && now - previous.atMs < this.d.repeatWindowMs) {
      this.d.indicator.show(patternForOutcome(previous));
      log.debug({ event: 'scan.repeat', scanKey, of: previous.kind, code: previous.code }, 'same code read again: repeating outcome');
      return { kind: 'repeat', of: previous };
    }

    const t0 = performance.now();
    const source = this.d.amountSource();
    const decision: Decision = decide(this.d.p, {
      text,
      keys: this.d.keys,
      issuers: this.d.issuers,
      revocations: this.d.revocations(),
      replay: { has: (w, c) => journal.hasReplay(w, c), unsyncedSpend: (w, cur) => journal.unsyncedSpend(w, cur) },
      amount: source,
      clock: clock.view(),
      policy: this.d.policy,
    });
    const chargeId = source.kind === 'charge' ? source.chargeId : null;
    if (decision.kind === 'decline') return this.declined(scanKey, decision.code, decision.detail, chargeId, now);

    try {
      journal.commitAccept(
        {
          debitId: decision.debitId,
          walletKey: decision.walletKey,
          counter: decision.counter,
          amount: decision.amount,
          currency: decision.currency,
          chargeId: decision.chargeId,
          acceptedAtMs: now,
          cardSerial: String(decision.cardSerial),
          record: decision.record,
          credentialExpiresAtMs: decision.credentialExpiresAtMs,
        },
        { scanKey, atMs: now },
      );
    } catch (e) {
      if (isBoxError(e) && e.code === 'JOURNAL_DUPLICATE') return this.declined(scanKey, DECLINE.REPLAYED, 'journal already holds this debit', chargeId, now);
      log.error({ event: 'journal.fault', code: isBoxError(e) ? e.code : 'UNKNOWN', err: e instanceof Error ? e.message : String(e) }, 'debit NOT recorded: declining');
      return this.declined(scanKey, DECLINE.JOURNAL_FAULT, 'journal commit failed', chargeId, now, false);
    }
    // Committed and fsync'd: only now the green light and the beep.
    this.d.indicator.show('accepted');
    this.remember({ kind: 'accept', scanKey, debitId: decision.debitId, atMs: now });
    if (decision.sessionKeyId) this.d.closeSession(decision.sessionKeyId);
    const decidedInUs = Math.round((performance.now() - t0) * 1000);
    log.info(
      { event: 'scan.accept', debitId: decision.debitId, amount: decision.amount, currency: decision.currency, chargeId: decision.chargeId, flow: decision.flow, us: decidedInUs },
      'payment accepted',
    );
    this.notify('paid', () => this.d.events?.paid?.({ chargeId: decision.chargeId, debitId: decision.debitId, amount: decision.amount, currency: decision.currency }));
    return { kind: 'accept', debitId: decision.debitId, amount: decision.amount, currency: decision.currency, chargeId: decision.chargeId, decidedInUs };
  }

  private declined(scanKey: string, code: DeclineCode, detail: string, chargeId: string | null, now: number, record = true): ScanOutcome {
    const category = declineCategory(code);
    this.d.indicator.show(PATTERN_FOR[category]);
    if (record) {
      try {
        this.d.journal.commitDecline({ scanKey, atMs: now, code });
        this.remember({ kind: 'decline', scanKey, code, atMs: now });
      } catch (e) {
        this.d.log.warn({ event: 'journal.decline-not-recorded', code: isBoxError(e) ? e.code : 'UNKNOWN' }, 'decline not recorded');
      }
    }
    this.d.log.info({ event: 'scan.decline', code, category, detail, chargeId }, 'payment declined');
    this.notify('declined', () => this.d.events?.declined?.({ chargeId, code }));
    return { kind: 'decline', code, category, detail, chargeId };
  }

  /**
   * The debit is committed and signalled by now: a listener that throws (the POS charge book, a
   * hook) must not turn that into a failed scan. The charge book re-derives paid charges from the
   * debits table at start (ChargeBook.reconcile), so a lost event is repaired there.
   */
  private notify(what: 'paid' | 'declined', call: () => void): void {
    try {
      call();
    } catch (e) {
      this.d.log.error({ event: 'scan.listener-failed', what, err: e instanceof Error ? e.message : String(e) }, `${what} listener threw`);
    }
  }
}
