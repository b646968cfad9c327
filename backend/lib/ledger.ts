/**
 * Double-entry ledger. Every posting is a set of entries that sums to zero, written in the
 * caller's transaction together with the account balances it moves.
 *
 * Accounts: `<customer id>` (customer), `merchant:<merchantId>` (merchant),
 * `issuer:funding:<CUR>` (money the issuer put on customer accounts; negative),
 * `issuer:loss:<CUR>` (what the issuer bears: settled debits the customer could not cover).
 */
import { BoxError } from '../../device/core/errors.ts';
import { type Db, statementCache } from './db.ts';

export type AccountKind = 'customer' | 'merchant' | 'issuer_funding' | 'issuer_loss';

export interface Account {
  accountId: string;
  kind: AccountKind;
  currency: string;
  balance: number;
}

export interface EntryInput {
  accountId: string;
  kind: AccountKind;
  currency: string;
  /** Signed minor units: positive credits the account, negative debits it. */
  amount: number;
}

export class Ledger {
  /** Compiled once, reused (see statementCache). */
  private readonly sql: ReturnType<typeof statementCache>;

  constructor(
    db: Db,
    private readonly now: () => number,
  ) {
    this.sql = statementCache(db);
  }

  account(accountId: string): Account | undefined {
    const row = this.sql('SELECT account_id, kind, currency, balance FROM accounts WHERE account_id = ?').get(accountId) as
      | { account_id: string; kind: AccountKind; currency: string; balance: number }
      | undefined;
    return row ? { accountId: row.account_id, kind: row.kind, currency: row.currency, balance: row.balance } : undefined;
  }

  ensureAccount(accountId: string, kind: AccountKind, currency: string): void {
    this.sql('INSERT OR IGNORE INTO accounts(account_id, kind, currency, balance, created_at_ms) VALUES (?, ?, ?, 0, ?)')
      .run(accountId, kind, currency, this.now());
    const a = this.account(accountId)!;
    if (a.kind !== kind || a.currency !== currency) {
      throw new BoxError('LEDGER_ACCOUNT_MISMATCH', `ledger.ensureAccount: ${accountId} is ${a.kind} ${a.currency}, not ${kind} ${currency}`);
    }
  }

  /** Books `entries` (must sum to zero, one currency). Call inside a transaction. */
  post(txnId: string, kind: string, debitId: string | null, entries: EntryInput[]): void {
    const sum = entries.reduce((s, e) => s + e.amount, 0);
    if (sum !== 0) throw new BoxError('LEDGER_UNBALANCED', `ledger.post: ${txnId} entries sum to ${sum}`);
    if (new Set(entries.map((e) => e.currency)).size > 1) throw new BoxError('LEDGER_CURRENCY', `ledger.post: ${txnId} mixes currencies`);
    const insert = this.sql('INSERT INTO ledger_entries(txn_id, account_id, amount, kind, debit_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)');
    const move = this.sql('UPDATE accounts SET balance = balance + ? WHERE account_id = ? AND kind = ? AND currency = ?');
    const now = this.now();
    for (const e of entries) {
      if (e.amount === 0) continue;
      // One statement when the account exists with this kind and currency (the usual case);
      // otherwise create it, or refuse a kind/currency mismatch, and move again.
      if (move.run(e.amount, e.accountId, e.kind, e.currency).changes !== 1) {
        this.ensureAccount(e.accountId, e.kind, e.currency);
        move.run(e.amount, e.accountId, e.kind, e.currency);
      }
      insert.run(txnId, e.accountId, e.amount, kind, debitId, now);
    }
  }

  /** Sum of every entry ever booked: zero when the books balance. */
  total(): number {
    return (this.sql('SELECT COALESCE(SUM(amount), 0) AS s FROM ledger_entries').get() as { s: number }).s;
  }

  entriesOf(accountId: string, limit = 100): { txnId: string; amount: number; kind: string; debitId: string | null; createdAtMs: number }[] {
    const rows = this.sql('SELECT txn_id, amount, kind, debit_id, created_at_ms FROM ledger_entries WHERE account_id = ? ORDER BY id DESC LIMIT ?')
      .all(accountId, limit) as { txn_id: string; amount: number; kind: string; debit_id: string | null; created_at_ms: number }[];
    return rows.map((r) => ({ txnId: r.txn_id, amount: r.amount, kind: r.kind, debitId: r.debit_id, createdAtMs: r.created_at_ms }));
  }

  /** Balance recomputed from the entries (the cached balance column must equal it). */
  entrySum(accountId: string): number {
    return (this.sql('SELECT COALESCE(SUM(amount), 0) AS s FROM ledger_entries WHERE account_id = ?').get(accountId) as { s: number }).s;
  }
}
