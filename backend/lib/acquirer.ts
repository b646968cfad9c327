/**
 * Acquirer: accepts signed debit batches, re-verifies every debit like the box did, settles each
 * one in the ledger (customer debited, merchant credited), raises risk flags, applies voids and
 * refunds. docs/backend-api.md describes the results, flags and who bears which loss.
 *
 * INVARIANTS
 * - A batch is processed in ONE SQLite transaction together with the row that stores its results,
 *   keyed on (deviceKeyId, batchSeq): a resend after a lost answer finds that row and gets the same
 *   answer; nothing is ever applied twice, whether or not the first answer reached the box.
 * - A debit is stored at most once per (wallet key, counter) (debitId PK and UNIQUE constraint).
 *   A second authorization with that pair and DIFFERENT signed content (5.2; never signature bytes)
 *   is counter reuse: stored once per distinct content in counter_reuses, paid to its merchant by
 *   the issuer (issuer:loss) and flagged. The same signed content again, from any box, is `duplicate`.
 * - Every settlement books entries that sum to zero.
 */
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { decodeBatch, decodeVoid, ENTRY, verifyBatchSignature, verifyVoidSignature } from '../../device/core/protocol/batch.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { DEFAULT_POLICY, type Policy } from '../../device/core/views.ts';
import { type SettlementContext, type SettlementOk, verifyDebitForSettlement } from '../../device/core/verify-debit.ts';
import { ApiError } from './api-error.ts';
import type { Authority, BoxRow } from './authority.ts';
import { type Db, statementCache } from './db.ts';
import type { Issuer } from './issuer.ts';
import type { Ledger } from './ledger.ts';

export const FLAG = {
  COUNTER_REUSE_ACROSS_BOXES: 'COUNTER_REUSE_ACROSS_BOXES',
  OVER_LIMIT_ACROSS_BOXES: 'OVER_LIMIT_ACROSS_BOXES',
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  REVOKED_AFTER_REACHING_BOX: 'REVOKED_AFTER_REACHING_BOX',
  UNKNOWN_ACCOUNT: 'UNKNOWN_ACCOUNT',
} as const;
export type FlagKind = (typeof FLAG)[keyof typeof FLAG];

export interface DebitResult {
  debitId: string;
  status: 'settled' | 'duplicate' | 'rejected';
  code?: string;
}
export interface VoidResult {
  debitId: string;
  status: 'voided' | 'rejected';
  code?: string;
}
export interface BatchAnswer {
  batchSeq: number;
  results: DebitResult[];
  voids: VoidResult[];
}

export interface AcquirerOptions {
  /** Freshness rules the boxes apply (re-checked at settlement). */
  policy?: Pick<Policy, 'freshnessMs' | 'futureSkewMs'>;
  /** Window for OVER_LIMIT_ACROSS_BOXES: a credential's debits accepted within it are summed. Default 24 h. */
  overLimitWindowMs?: number;
}

export class Acquirer {
  private readonly policy: Pick<Policy, 'freshnessMs' | 'futureSkewMs'>;
  private readonly windowSec: number;

  /** Credentials whose issuer signature verified (bounded; see SettlementContext.verifiedCredentials). */
  private readonly verifiedCredentials: { has(key: string): boolean; add(key: string): void };

  /** Compiled once, reused (see statementCache). */
  private readonly sql: ReturnType<typeof statementCache>;

  constructor(
    private readonly p: CryptoProvider,
    private readonly db: Db,
    private readonly authority: Authority,
    private readonly issuer: Issuer,
    private readonly ledger: Ledger,
    private readonly now: () => number,
    opts: AcquirerOptions = {},
  ) {
    this.sql = statementCache(db);
    this.policy = opts.policy ?? DEFAULT_POLICY;
    this.verifiedCredentials = boundedSet(10_000);
    this.windowSec = Math.floor((opts.overLimitWindowMs ?? 24 * 3600_000) / 1000);
  }

  processBatch(box: BoxRow, body: Uint8Array): BatchAnswer {
    const batch = decodeBatch(body);
    if (!batch) throw new ApiError(400, 'MALFORMED_BATCH', 'acquirer.processBatch: the body is not a signed batch');
    if (toHex(batch.deviceKeyId) !== box.device_key_id) throw new ApiError(400, 'BATCH_BOX_MISMATCH', 'acquirer.processBatch: batch names another box');
    const devicePublicKey = fromHex(box.device_public_key);
    if (!verifyBatchSignature(this.p, devicePublicKey, batch)) throw new ApiError(400, 'BAD_DEVICE_SIGNATURE', 'acquirer.processBatch: batch signature');
    const bodyHash = toHex(this.p.sha256(body));

    return this.db.transaction((): BatchAnswer => {
      const stored = this.sql('SELECT body_hash, results_json FROM batches WHERE device_key_id = ? AND batch_seq = ?').get(box.device_key_id, batch.batchSeq) as
        | { body_hash: string; results_json: string }
        | undefined;
      if (stored) {
        if (stored.body_hash !== bodyHash) throw new ApiError(409, 'BATCH_SEQ_CONFLICT', `acquirer.processBatch: batch ${batch.batchSeq} was received with other content`);
        return JSON.parse(stored.results_json) as BatchAnswer;
      }
      const voids = batch.entries.filter((e) => e.type === ENTRY.void).map((e) => this.applyVoid(box, devicePublicKey, e.bytes));
      const ctx = this.settlementContext(box, devicePublicKey);
      const results = batch.entries.filter((e) => e.type === ENTRY.debit).map((e) => this.settleOne(box, ctx, e.bytes, batch.batchSeq));
      const answer: BatchAnswer = { batchSeq: batch.batchSeq, results, voids };
      this.sql('INSERT INTO batches(device_key_id, batch_seq, body_hash, received_at_ms, results_json) VALUES (?, ?, ?, ?, ?)')
        .run(box.device_key_id, batch.batchSeq, bodyHash, this.now(), JSON.stringify(answer));
      this.sql('UPDATE boxes SET last_batch_at_ms = ? WHERE device_key_id = ?').run(this.now(), box.device_key_id);
      return answer;
    })();
  }

  private applyVoid(box: BoxRow, devicePublicKey: Uint8Array, bytes: Uint8Array): VoidResult {
    const v = decodeVoid(bytes);
    if (!v) return { debitId: '', status: 'rejected', code: 'MALFORMED' };
    const debitId = toHex(v.debitId);
    if (!verifyVoidSignature(this.p, devicePublicKey, v)) return { debitId, status: 'rejected', code: 'BAD_DEVICE_SIGNATURE' };
    const debit = this.sql('SELECT device_key_id, status FROM debits WHERE debit_id = ?').get(debitId) as { device_key_id: string; status: string } | undefined;
    if (debit) {
      if (debit.device_key_id !== box.device_key_id) {
        const reuse = this.sql('SELECT 1 FROM counter_reuses WHERE device_key_id = ? AND debit_id = ?').get(box.device_key_id, debitId);
        return { debitId, status: 'rejected', code: reuse ? 'ALREADY_SETTLED' : 'WRONG_BOX' };
      }
      if (debit.status === 'voided') return { debitId, status: 'voided' };
      return { debitId, status: 'rejected', code: 'ALREADY_SETTLED' };
    }
    this.sql('INSERT OR IGNORE INTO voids(debit_id, device_key_id, voided_at_sec, record, received_at_ms) VALUES (?, ?, ?, ?, ?)')
      .run(debitId, box.device_key_id, v.voidedAt, bytes, this.now());
    return { debitId, status: 'voided' };
  }

  private reject(box: BoxRow, debitId: string, code: string, batchSeq: number): DebitResult {
    if (debitId) {
      this.sql('INSERT INTO rejections(device_key_id, debit_id, code, batch_seq, created_at_ms) VALUES (?, ?, ?, ?, ?)')
        .run(box.device_key_id, debitId, code, batchSeq, this.now());
    }
    return { debitId, status: 'rejected', code };
  }

  private flag(kind: FlagKind, walletKey: string | null, debitId: string | null, deviceKeyId: string, detail: Record<string, unknown>): void {
    this.sql('INSERT INTO flags(kind, wallet_key, debit_id, device_key_id, detail, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)')
      .run(kind, walletKey, debitId, deviceKeyId, JSON.stringify(detail), this.now());
  }

  /** What every debit of one batch is checked against (built once per batch, not per debit). */
  private settlementContext(box: BoxRow, devicePublicKey: Uint8Array): SettlementContext {
    return {
      devicePublicKey,
      deviceKeyId: keyId(this.p, devicePublicKey),
      merchantId: box.merchant_id,
      cardBySerial: (s) => this.authority.cardBySerial(s),
      issuers: this.issuer.trustedIssuers(),
      revocationOf: (w) => this.issuer.revocationVersionOf(w),
      verifiedCredentials: this.verifiedCredentials,
      policy: this.policy,
    };
  }

  private settleOne(box: BoxRow, ctx: SettlementContext, bytes: Uint8Array, batchSeq: number): DebitResult {
    const v = verifyDebitForSettlement(this.p, bytes, ctx);
    if (!v.ok) {
      if (v.code === 'REVOKED' && v.walletKey) {
        this.flag(FLAG.REVOKED_AFTER_REACHING_BOX, v.walletKey, v.debitId ?? null, box.device_key_id, { detail: v.detail });
      }
      return this.reject(box, v.debitId ?? '', v.code, batchSeq);
    }
    const authHash = toHex(this.p.sha256(v.debit.authorization));
    const contentHash = this.signedContentHash(v);
    const existing = this.sql('SELECT device_key_id, authorization_hash, content_hash, amount FROM debits WHERE debit_id = ?').get(v.debitId) as
      | { device_key_id: string; authorization_hash: string; content_hash: string | null; amount: number }
      | undefined;
    if (existing) {
      // Rows settled before schema v2 have no content hash: compare the authorizations then.
      const same = existing.content_hash !== null ? existing.content_hash === contentHash : existing.authorization_hash === authHash;
      if (same) return { debitId: v.debitId, status: 'duplicate' };
      return this.settleCounterReuse(box, v, existing, contentHash, bytes, batchSeq);
    }
    const voided = this.sql('SELECT device_key_id FROM voids WHERE debit_id = ?').get(v.debitId) as { device_key_id: string } | undefined;
    const isVoided = voided?.device_key_id === box.device_key_id;
    const flags: FlagKind[] = [];
    const account = this.issuer.accountOf(v.walletKey);
    this.insertDebit(box, v, isVoided ? 'voided' : 'settled', account?.accountId ?? null, batchSeq, authHash, contentHash, bytes);
    if (isVoided) return this.reject(box, v.debitId, 'VOIDED', batchSeq);

    const cur = v.currency;
    let fromCustomer = 0;
    if (account) {
      const balance = this.ledger.account(account.accountId)?.balance ?? 0;
      fromCustomer = Math.min(Math.max(balance, 0), v.amount);
    } else {
      flags.push(FLAG.UNKNOWN_ACCOUNT);
    }
    const shortfall = v.amount - fromCustomer;
    if (shortfall > 0 && account) flags.push(FLAG.INSUFFICIENT_FUNDS);
    this.ledger.post(`debit:${v.debitId}`, 'debit', v.debitId, [
      ...(account ? [{ accountId: account.accountId, kind: 'customer' as const, currency: cur, amount: -fromCustomer }] : []),
      { accountId: `issuer:loss:${cur}`, kind: 'issuer_loss', currency: cur, amount: -shortfall },
      { accountId: `merchant:${box.merchant_id}`, kind: 'merchant', currency: cur, amount: v.amount },
    ]);

    const limit = v.debit.auth.credential.offlineLimit;
    const acc = v.debit.acceptedAt;
    const win = this.sql(
        `SELECT COALESCE(SUM(amount), 0) AS total, COUNT(DISTINCT device_key_id) AS boxes FROM debits
         WHERE wallet_key = ? AND status != 'voided' AND accepted_at_sec BETWEEN ? AND ?`,
      )
      .get(v.walletKey, acc - this.windowSec, acc + this.windowSec) as { total: number; boxes: number };
    if (win.boxes > 1 && win.total > limit) flags.push(FLAG.OVER_LIMIT_ACROSS_BOXES);

    for (const f of flags) {
      this.flag(f, v.walletKey, v.debitId, box.device_key_id, { amount: v.amount, shortfall, windowTotal: win.total, windowBoxes: win.boxes, offlineLimit: limit });
    }
    if (flags.length) this.sql('UPDATE debits SET flags = ? WHERE debit_id = ?').run(flags.join(','), v.debitId);
    return { debitId: v.debitId, status: 'settled' };
  }

  /** H(the wallet's signed content, 5.2): what tells one authorization from another (never the signature bytes). */
  private signedContentHash(v: SettlementOk): string {
    return toHex(this.p.sha256(v.signedContent));
  }

  /**
   * Counter reuse (a cloned wallet, or one restored from a backup): the first debit stays settled;
   * this different authorization is settled too, its merchant paid by the issuer (issuer:loss), and
   * flagged. The same content again is `duplicate`.
   */
  private settleCounterReuse(
    box: BoxRow,
    v: SettlementOk,
    first: { device_key_id: string; amount: number },
    contentHash: string,
    bytes: Uint8Array,
    batchSeq: number,
  ): DebitResult {
    const seen = this.sql('SELECT 1 FROM counter_reuses WHERE debit_id = ? AND content_hash = ?').get(v.debitId, contentHash);
    if (seen) return { debitId: v.debitId, status: 'duplicate' };
    const info = this.sql(
        `INSERT INTO counter_reuses(debit_id, wallet_key, counter, device_key_id, merchant_id, card_serial, amount, currency,
         accepted_at_sec, batch_seq, settled_at_ms, content_hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(v.debitId, v.walletKey, v.counter, box.device_key_id, box.merchant_id, v.cardSerial, v.amount, v.currency, v.debit.acceptedAt, batchSeq, this.now(), contentHash, bytes);
    const reuseId = Number(info.lastInsertRowid);
    this.ledger.post(`reuse:${reuseId}`, 'counter_reuse', v.debitId, [
      { accountId: `issuer:loss:${v.currency}`, kind: 'issuer_loss', currency: v.currency, amount: -v.amount },
      { accountId: `merchant:${box.merchant_id}`, kind: 'merchant', currency: v.currency, amount: v.amount },
    ]);
    this.flag(FLAG.COUNTER_REUSE_ACROSS_BOXES, v.walletKey, v.debitId, box.device_key_id, {
      counter: v.counter,
      firstBox: first.device_key_id,
      firstAmount: first.amount,
      secondBox: box.device_key_id,
      secondAmount: v.amount,
      paidBy: `issuer:loss:${v.currency}`,
      reuseId,
    });
    return { debitId: v.debitId, status: 'settled' };
  }

  private insertDebit(
    box: BoxRow,
    v: SettlementOk,
    status: string,
    accountId: string | null,
    batchSeq: number,
    authHash: string,
    contentHash: string,
    bytes: Uint8Array,
  ): void {
    this.sql(
        `INSERT INTO debits(debit_id, wallet_key, counter, device_key_id, merchant_id, card_serial, account_id, amount, currency,
         accepted_at_sec, revocation_version, status, batch_seq, settled_at_ms, authorization_hash, content_hash, record)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        v.debitId,
        v.walletKey,
        v.counter,
        box.device_key_id,
        box.merchant_id,
        v.cardSerial,
        accountId,
        v.amount,
        v.currency,
        v.debit.acceptedAt,
        v.debit.revocationVersion,
        status,
        batchSeq,
        this.now(),
        authHash,
        contentHash,
        bytes,
      );
  }

  /** Refunds part or all of a settled debit: the merchant pays back, the issuer's loss first, then the customer. */
  refund(debitId: string, amount: number): { refundId: number; status: string; refunded: number } {
    if (!/^[0-9a-f]{32}$/.test(debitId)) throw new BoxError('BAD_REQUEST', 'acquirer.refund: debitId must be 16 bytes of lowercase hex');
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new BoxError('BAD_REQUEST', `acquirer.refund: bad amount ${amount}`);
    return this.db.transaction(() => {
      const d = this.sql('SELECT merchant_id, account_id, amount, refunded, currency, status FROM debits WHERE debit_id = ?').get(debitId) as
        | { merchant_id: string; account_id: string | null; amount: number; refunded: number; currency: string; status: string }
        | undefined;
      if (!d) throw new BoxError('UNKNOWN_DEBIT', `acquirer.refund: no debit ${debitId}`);
      if (d.status !== 'settled' && d.status !== 'partially_refunded') throw new BoxError('NOT_SETTLED', `acquirer.refund: debit is ${d.status}`);
      if (d.refunded + amount > d.amount) throw new BoxError('REFUND_EXCEEDS', `acquirer.refund: ${amount} more than the ${d.amount - d.refunded} left`);
      const lossAccount = `issuer:loss:${d.currency}`;
      const lossOpen = -(this.sql("SELECT COALESCE(SUM(amount), 0) AS s FROM ledger_entries WHERE debit_id = ? AND account_id = ? AND kind != 'counter_reuse'").get(debitId, lossAccount) as { s: number }).s;
      const toLoss = Math.min(amount, Math.max(lossOpen, 0));
      const toCustomer = amount - toLoss;
      const info = this.sql('INSERT INTO refunds(debit_id, amount, created_at_ms) VALUES (?, ?, ?)').run(debitId, amount, this.now());
      const refundId = Number(info.lastInsertRowid);
      this.ledger.post(`refund:${refundId}`, 'refund', debitId, [
        { accountId: `merchant:${d.merchant_id}`, kind: 'merchant', currency: d.currency, amount: -amount },
        { accountId: lossAccount, kind: 'issuer_loss', currency: d.currency, amount: toLoss },
        ...(d.account_id ? [{ accountId: d.account_id, kind: 'customer' as const, currency: d.currency, amount: toCustomer }] : []),
        ...(d.account_id ? [] : [{ accountId: lossAccount, kind: 'issuer_loss' as const, currency: d.currency, amount: toCustomer }]),
      ]);
      const refunded = d.refunded + amount;
      const status = refunded === d.amount ? 'refunded' : 'partially_refunded';
      this.sql('UPDATE debits SET refunded = ?, status = ? WHERE debit_id = ?').run(refunded, status, debitId);
      return { refundId, status, refunded };
    })();
  }

  flags(limit = 500): { id: number; kind: string; walletKey: string | null; debitId: string | null; deviceKeyId: string | null; detail: unknown; createdAtMs: number }[] {
    const rows = this.sql('SELECT * FROM flags ORDER BY id DESC LIMIT ?').all(limit) as {
      id: number;
      kind: string;
      wallet_key: string | null;
      debit_id: string | null;
      device_key_id: string | null;
      detail: string;
      created_at_ms: number;
    }[];
    return rows.map((r) => ({ id: r.id, kind: r.kind, walletKey: r.wallet_key, debitId: r.debit_id, deviceKeyId: r.device_key_id, detail: JSON.parse(r.detail), createdAtMs: r.created_at_ms }));
  }

  /** Rejected debits of a box in the last 30 days, newest first (GET /v1/box/updates). */
  rejectionsFor(deviceKeyId: string): { debitId: string; code: string }[] {
    const rows = this.sql('SELECT DISTINCT debit_id, code FROM rejections WHERE device_key_id = ? AND created_at_ms >= ? ORDER BY id DESC LIMIT 500')
      .all(deviceKeyId, this.now() - 30 * 86400_000) as { debit_id: string; code: string }[];
    return rows.map((r) => ({ debitId: r.debit_id, code: r.code }));
  }
}

/** A set that forgets its oldest entries beyond `max` (memory stays bounded whatever boxes upload). */
function boundedSet(max: number): { has(key: string): boolean; add(key: string): void } {
  const s = new Set<string>();
  return {
    has: (k) => s.has(k),
    add(k) {
      s.add(k);
      if (s.size > max) s.delete(s.values().next().value as string);
    },
  };
}
