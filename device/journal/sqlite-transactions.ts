/**
 * The journal's write transactions on the payment path and its housekeeping (schema v3).
 *
 * INVARIANTS
 * - An accept writes exactly one row (the debit, carrying scanKey and replay expiry) in one
 *   transaction: the debit, its replay entry and its last outcome become durable together.
 * - A (walletKey, counter) is used iff a debit row or a replay row holds it. The debit row is the
 *   replay entry while it exists; prune() writes a replay row in the same transaction that deletes
 *   a settled debit whose credential has not expired, so the pair never stops being used early.
 * - debits.seq and last_outcome.id draw from one sequence (max of both + 1), so "newest outcome"
 *   is the larger number, whichever table holds it.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { BoxError } from '../core/errors.ts';
import type { JournalStatements } from './sqlite-statements.ts';
import type { DebitInsert, DeclineInsert, OutcomeInsert, PruneCounts } from './types.ts';

export interface JournalTransactions {
  accept(d: DebitInsert, o: OutcomeInsert): void;
  decline(d: DeclineInsert): void;
  prune(nowMs: number, retentionMs: number): PruneCounts;
}

export function makeTransactions(
  db: BetterSqlite3.Database,
  s: JournalStatements,
  sizes: { declineLogSize: number; outcomeLogSize: number },
): JournalTransactions {
  const accept = db.transaction((d: DebitInsert, o: OutcomeInsert) => {
    if (s.replayKept.get(d.walletKey, d.counter) !== undefined) {
      throw new BoxError('JOURNAL_DUPLICATE', `journal.commitAccept: duplicate (counter ${d.counter} of this wallet was used by a pruned debit)`);
    }
    s.insertDebit.run(
      d.debitId, d.walletKey, d.counter, d.amount, d.currency, d.chargeId, d.acceptedAtMs, d.cardSerial, d.record,
      o.scanKey, o.atMs, d.credentialExpiresAtMs,
    );
  });
  const decline = db.transaction((d: DeclineInsert) => {
    const id = Number(s.insertDecline.run(d.code, d.scanKey, d.atMs).lastInsertRowid);
    s.trimDeclines.run(id - sizes.declineLogSize);
    const oid = Number(s.putDeclineOutcome.run(d.scanKey, d.code, d.atMs).lastInsertRowid);
    s.trimOutcomes.run(oid - sizes.outcomeLogSize);
  });
  const prune = db.transaction((nowMs: number, retentionMs: number): PruneCounts => {
    const cutoff = nowMs - retentionMs;
    const heldExpired = s.expireHeldReplay.run(nowMs).changes;
    s.keepReplayOfPruned.run(cutoff);
    const debits = s.pruneDebits.run(cutoff).changes;
    const replay = heldExpired + s.pruneReplay.run(nowMs).changes;
    const top = (s.topSeq.get() as { m: number }).m;
    const outcomes = s.trimOutcomes.run(top - sizes.outcomeLogSize).changes;
    return { debits, replay, outcomes };
  });
  return { accept, decline, prune };
}
