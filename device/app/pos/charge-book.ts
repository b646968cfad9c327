/**
 * The host of the charge machine: feeds it the journal's view of a charge, applies its effects
 * (journal rows, the amount source, NFC sessions, events to the POS) and signs voids.
 *
 * INVARIANTS: every public method except `subscribe` and `active` runs inside one task of the
 * WriterQueue (the scan task for onPaid/onDeclined, which the Acceptor calls synchronously between
 * its commit and its return). So the RAM state here and the charges table only change together,
 * one input at a time.
 */
import type { Log } from '../../../drivers/common/log.ts';
import type { Ed25519Signer } from '../../core/crypto/provider.ts';
import { fromHex } from '../../core/encoding/bytes.ts';
import { isBoxError } from '../../core/errors.ts';
import { signVoid } from '../../core/protocol/batch.ts';
import type { Charge, DebitRow, Journal } from '../../journal/types.ts';
import { type ChargeView, type Effect, type MachineInput, type MachineState, transition } from './charge-machine.ts';
import { POS_ERROR, type PosCommand, type PosEvent, type PosReply } from './messages.ts';

/** The charge id an NFC answer carries at a fixed-price box. */
export const FIXED_CHARGE_ID = 'FIXED';
const ACTIVE_META_KEY = 'pos.active';
/** Upper bound on the outbox scan that finds the debit of a charge (see findDebitForCharge). */
const OUTBOX_SCAN_LIMIT = 100_000;

export interface ChargeTerms {
  chargeId: string;
  amount: number;
  currency: string;
}

export interface ChargeBookDeps {
  journal: Journal;
  sessions: { closeForCharge(chargeId: string): void };
  device: Ed25519Signer;
  nowMs(): number;
  log: Log;
  /** The box's currency: a charge in another one is refused. */
  currency: string;
  /** 'fixed': the box charges a fixed price, the POS may only ask status and void. */
  mode: 'pos' | 'fixed';
  /** Fixed-price mode: what a tap offers (charge id 'FIXED'). */
  fixedPrice?: { amount: number; currency: string };
  /** The amount source of the Acceptor changes (pos mode). */
  activate(charge: ChargeTerms | null): void;
}

/** A journal that can look a debit up by its charge id (an index the journal may add later). */
type ChargeIndexedJournal = Journal & { debitForCharge?: (chargeId: string) => DebitRow | undefined };

/**
 * The debit that paid `chargeId`, if any. The debit and the charge row are two writes: a crash
 * between them leaves a 'pending' row whose debit exists. Debits stay 'pending' until the outbox
 * uploads them, and the box reconciles at start-up before any upload, so the outbox scan finds it.
 */
export function findDebitForCharge(journal: Journal, chargeId: string): DebitRow | undefined {
  const indexed = (journal as ChargeIndexedJournal).debitForCharge;
  if (typeof indexed === 'function') return indexed.call(journal, chargeId);
  let found: DebitRow | undefined;
  for (const d of journal.pendingDebits(OUTBOX_SCAN_LIMIT)) if (d.chargeId === chargeId) found = d;
  return found;
}

function viewOf(c: Charge): ChargeView {
  return { chargeId: c.chargeId, amount: c.amount, currency: c.currency, state: c.state, debitId: c.debitId };
}

export class ChargeBook {
  private state: MachineState = { active: null };
  private readonly listeners = new Set<(e: PosEvent) => void>();

  constructor(private readonly d: ChargeBookDeps) {}

  get active(): ChargeView | null {
    return this.state.active;
  }

  /** Every event (paid, declined) goes to each subscriber; returns the unsubscribe function. */
  subscribe(listener: (e: PosEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Start-up: a pending charge whose debit exists is marked paid (the box died between the debit
   * commit and the charge update); the charge that was active before a restart is resumed.
   */
  reconcile(): void {
    const id = this.d.journal.getMeta(ACTIVE_META_KEY);
    if (typeof id !== 'string') return;
    const stored = this.lookup(id);
    if (stored?.state === 'pending' && this.d.mode === 'pos') {
      this.state = { active: stored };
      this.d.activate(stored);
      this.d.log.info({ event: 'pos.resume', chargeId: id }, 'resuming the charge pending before restart');
    } else {
      this.d.journal.setMeta(ACTIVE_META_KEY, null);
    }
  }

  /** One POS command; the reply to send back. */
  command(cmd: PosCommand): PosReply {
    try {
      if (cmd.type === 'void') return this.voidDebit(cmd.debitId);
      if (cmd.type === 'charge') {
        if (this.d.mode !== 'pos') return { type: 'error', code: POS_ERROR.NOT_POS_MODE, detail: 'the box charges a fixed price' };
        if (cmd.currency !== this.d.currency) {
          return { type: 'error', code: POS_ERROR.CURRENCY_MISMATCH, chargeId: cmd.chargeId, detail: `the box charges ${this.d.currency}` };
        }
      }
      const stored = this.lookup(cmd.chargeId);
      const input: MachineInput = cmd.type === 'charge' ? { kind: 'charge', ...cmd, stored } : { kind: cmd.type, chargeId: cmd.chargeId, stored };
      const reply = this.run(input).reply ?? { type: 'error', code: POS_ERROR.INTERNAL };
      if (reply.type === 'charge' && reply.debitId && this.d.journal.getDebit(reply.debitId)?.voidRecord) reply.voided = true;
      return reply;
    } catch (e) {
      this.d.log.error({ event: 'pos.command-failed', type: cmd.type, code: isBoxError(e) ? e.code : 'UNKNOWN', err: e instanceof Error ? e.message : String(e) }, 'POS command failed');
      return { type: 'error', code: POS_ERROR.INTERNAL, detail: isBoxError(e) ? e.code : 'internal error' };
    }
  }

  /** An NFC tap asks what to offer: the active charge (or the fixed price), or null (refuse the tap). */
  offerForTap(): ChargeTerms | null {
    if (this.d.mode === 'fixed') return this.d.fixedPrice ? { chargeId: FIXED_CHARGE_ID, ...this.d.fixedPrice } : null;
    const c = this.run({ kind: 'tap' }).offer ?? null;
    return c ? { chargeId: c.chargeId, amount: c.amount, currency: c.currency } : null;
  }

  /** The Acceptor committed a debit (called inside the scan task, right after the commit). */
  onPaid(e: { chargeId: string | null; debitId: string; amount: number; currency: string }): void {
    this.run({ kind: 'paid', ...e });
  }

  onDeclined(e: { chargeId: string | null; code: string }): void {
    this.run({ kind: 'declined', ...e });
  }

  /** The journal's row for a charge, reconciled with the debits table. */
  private lookup(chargeId: string): ChargeView | undefined {
    const row = this.d.journal.getCharge(chargeId);
    if (!row) return undefined;
    if (row.state !== 'pending') return viewOf(row);
    const debit = findDebitForCharge(this.d.journal, chargeId);
    if (!debit) return viewOf(row);
    this.d.journal.setChargeState(chargeId, 'paid', this.d.nowMs(), debit.debitId);
    this.d.log.warn({ event: 'pos.reconciled', chargeId, debitId: debit.debitId }, 'charge was paid before a crash: marked paid');
    if (this.state.active?.chargeId === chargeId) {
      this.state = { active: null };
      this.d.activate(null);
    }
    return { ...viewOf(row), state: 'paid', debitId: debit.debitId };
  }

  private run(input: MachineInput): { reply?: PosReply; offer?: ChargeView | null } {
    const t = transition(this.state, input);
    const out: { reply?: PosReply; offer?: ChargeView | null } = {};
    // Durable effects first, in order; RAM state follows only once they are written. One
    // exception: a 'paid' input follows a debit that is already durable (and is the truth for
    // status()), so a failed charge-row write must never leave the charge collecting a second payment.
    for (const e of t.effects) {
      try {
        this.applyDurable(e);
      } catch (err) {
        if (input.kind !== 'paid') throw err;
        this.d.log.error({ event: 'pos.paid-not-recorded', code: 'JOURNAL_IO', err: err instanceof Error ? err.message : String(err) }, 'charge row not updated; the debit is recorded and the charge is closed');
      }
    }
    this.state = t.state;
    for (const e of t.effects) this.applyVolatile(e, out);
    return out;
  }

  private applyDurable(e: Effect): void {
    const now = this.d.nowMs();
    if (e.kind === 'insert') this.d.journal.putCharge({ ...e.charge, createdAtMs: now, updatedAtMs: now });
    else if (e.kind === 'set-state') {
      if (!this.d.journal.setChargeState(e.chargeId, e.state, now, e.debitId)) {
        this.d.log.warn({ event: 'pos.no-charge-row', chargeId: e.chargeId, state: e.state }, 'no charge row to update');
      }
    } else if (e.kind === 'activate') this.d.journal.setMeta(ACTIVE_META_KEY, e.charge?.chargeId ?? null);
  }

  private applyVolatile(e: Effect, out: { reply?: PosReply; offer?: ChargeView | null }): void {
    switch (e.kind) {
      case 'activate':
        this.d.activate(e.charge ? { chargeId: e.charge.chargeId, amount: e.charge.amount, currency: e.charge.currency } : null);
        return;
      case 'close-sessions':
        this.d.sessions.closeForCharge(e.chargeId);
        return;
      case 'reply':
        out.reply = e.reply;
        return;
      case 'offer':
        out.offer = e.charge;
        return;
      case 'event':
        for (const l of this.listeners) {
          try {
            l(e.event);
          } catch (err) {
            this.d.log.error({ event: 'pos.listener-failed', err: err instanceof Error ? err.message : String(err) }, 'POS event listener threw');
          }
        }
        return;
      case 'insert':
      case 'set-state':
        return;
    }
  }

  private voidDebit(debitId: string): PosReply {
    const debit = this.d.journal.getDebit(debitId);
    if (!debit) return { type: 'error', code: POS_ERROR.UNKNOWN_DEBIT };
    if (debit.voidRecord) return { type: 'error', code: POS_ERROR.ALREADY_VOIDED };
    if (debit.state !== 'pending') return { type: 'error', code: POS_ERROR.DEBIT_UPLOADED, detail: `debit is ${debit.state}: refund it through the acquirer` };
    // The protocol's void record (device/core/protocol/batch.ts), uploaded in the same batch as the debit.
    const record = signVoid(fromHex(debitId), Math.floor(this.d.nowMs() / 1000), this.d.device);
    const r = this.d.journal.voidDebit(debitId, record);
    if (r === 'VOIDED') {
      this.d.log.info({ event: 'pos.void', debitId, chargeId: debit.chargeId, amount: debit.amount }, 'debit voided before upload');
      return { type: 'voided', debitId, chargeId: debit.chargeId, record: Buffer.from(record).toString('hex') };
    }
    if (r === 'ALREADY_VOIDED') return { type: 'error', code: POS_ERROR.ALREADY_VOIDED };
    if (r === 'NOT_PENDING') return { type: 'error', code: POS_ERROR.DEBIT_UPLOADED };
    return { type: 'error', code: POS_ERROR.UNKNOWN_DEBIT };
  }
}
