/**
 * The POS charge state machine, as a pure transition function (docs/pos-link.md "State machine").
 *
 * The box collects at most ONE charge at a time: the active charge, always in state 'pending'.
 * Every input (a POS command, an NFC tap, a scan's verdict) runs inside one task of the writer
 * queue, so inputs are totally ordered and this function decides each race by that order alone:
 *
 * | input                 | active = none                      | active = A                                     |
 * |-----------------------|------------------------------------|------------------------------------------------|
 * | charge A (same terms) | stored pending: resume A; stored   | reply pending (idempotent, sessions kept)      |
 * |                       | final: reply it; unknown: create A |                                                |
 * | charge A (new terms)  | CHARGE_CONFLICT (never a 2nd A)    | CHARGE_CONFLICT                                |
 * | charge B              | create B, active = B               | A -> cancelled, A's sessions erased, active = B|
 * | cancel A              | stored: cancel / reply / FINAL     | A -> cancelled, A's sessions erased, none      |
 * | status X              | stored row or UNKNOWN_CHARGE       | A's state if X = A, else stored row            |
 * | NFC tap               | refused (no charge to offer)       | session opened for A                           |
 * | scan -> paid (A)      | (cannot happen)                    | A -> paid + debitId, none; event paid          |
 * | scan -> declined      | event declined {chargeId: null}    | A stays pending; event declined {A}            |
 *
 * The scan's verdict itself comes from decide(): with no active charge it is NO_CHARGE; a static
 * code signed for the old amount after a change is AMOUNT_MISMATCH; a code bound to an erased
 * session (cancelled or replaced charge) is SESSION_EXPIRED.
 */
import type { ChargeReply, ChargeStateName, PosEvent, PosReply } from './messages.ts';
import { POS_ERROR } from './messages.ts';

export interface ChargeView {
  chargeId: string;
  amount: number;
  currency: string;
  state: ChargeStateName;
  debitId: string | null;
}

export interface MachineState {
  /** The charge being collected (state 'pending'), or null. */
  active: ChargeView | null;
}

/** `stored` is the journal's row for the charge id, already reconciled with the debits table. */
export type MachineInput =
  | { kind: 'charge'; chargeId: string; amount: number; currency: string; stored: ChargeView | undefined }
  | { kind: 'cancel'; chargeId: string; stored: ChargeView | undefined }
  | { kind: 'status'; chargeId: string; stored: ChargeView | undefined }
  | { kind: 'tap' }
  | { kind: 'paid'; chargeId: string | null; debitId: string; amount: number; currency: string }
  | { kind: 'declined'; chargeId: string | null; code: string };

export type Effect =
  /** Insert a new charge row. */
  | { kind: 'insert'; charge: ChargeView }
  /** Move a stored charge to a new state. */
  | { kind: 'set-state'; chargeId: string; state: ChargeStateName; debitId: string | null }
  /** The amount source changes (null: no charge). */
  | { kind: 'activate'; charge: ChargeView | null }
  /** Erase every NFC session bound to this charge. */
  | { kind: 'close-sessions'; chargeId: string }
  | { kind: 'reply'; reply: PosReply }
  | { kind: 'event'; event: PosEvent }
  /** Answer to a tap: the charge to put in the NFC answer, or null to refuse the tap. */
  | { kind: 'offer'; charge: ChargeView | null };

export interface Transition {
  state: MachineState;
  effects: Effect[];
}

function view(c: ChargeView, extra: Partial<ChargeReply> = {}): ChargeReply {
  return { type: 'charge', chargeId: c.chargeId, amount: c.amount, currency: c.currency, state: c.state, debitId: c.debitId, ...extra };
}

function sameTerms(c: ChargeView, amount: number, currency: string): boolean {
  return c.amount === amount && c.currency === currency;
}

/** Cancels the active charge (when there is one) as part of a bigger transition. */
function dropActive(active: ChargeView | null): Effect[] {
  if (!active) return [];
  return [
    { kind: 'set-state', chargeId: active.chargeId, state: 'cancelled', debitId: null },
    { kind: 'close-sessions', chargeId: active.chargeId },
  ];
}

export function transition(s: MachineState, input: MachineInput): Transition {
  const active = s.active;
  const stay = (...effects: Effect[]): Transition => ({ state: s, effects });
  const conflict = (chargeId: string): Transition =>
    stay({ kind: 'reply', reply: { type: 'error', code: POS_ERROR.CHARGE_CONFLICT, chargeId, detail: 'this charge id was used with another amount or currency' } });

  switch (input.kind) {
    case 'charge': {
      const { chargeId, amount, currency, stored } = input;
      if (active && active.chargeId === chargeId) {
        return sameTerms(active, amount, currency) ? stay({ kind: 'reply', reply: view(active) }) : conflict(chargeId);
      }
      if (stored) {
        if (!sameTerms(stored, amount, currency)) return conflict(chargeId);
        if (stored.state !== 'pending') return stay({ kind: 'reply', reply: view(stored) });
      }
      const next: ChargeView = stored ?? { chargeId, amount, currency, state: 'pending', debitId: null };
      const replaced = active ? { replaced: active.chargeId } : {};
      return {
        state: { active: next },
        effects: [
          ...dropActive(active),
          ...(stored ? [] : [{ kind: 'insert', charge: next } as const]),
          { kind: 'activate', charge: next },
          { kind: 'reply', reply: view(next, replaced) },
        ],
      };
    }
    case 'cancel': {
      const { chargeId, stored } = input;
      if (active && active.chargeId === chargeId) {
        const cancelled: ChargeView = { ...active, state: 'cancelled' };
        return {
          state: { active: null },
          effects: [...dropActive(active), { kind: 'activate', charge: null }, { kind: 'reply', reply: view(cancelled) }],
        };
      }
      if (!stored) return stay({ kind: 'reply', reply: { type: 'error', code: POS_ERROR.UNKNOWN_CHARGE, chargeId } });
      if (stored.state === 'cancelled') return stay({ kind: 'reply', reply: view(stored) });
      if (stored.state === 'pending') {
        // A pending row that is not active (left over from before a restart): cancel it in place.
        return stay(
          { kind: 'set-state', chargeId, state: 'cancelled', debitId: null },
          { kind: 'close-sessions', chargeId },
          { kind: 'reply', reply: view({ ...stored, state: 'cancelled' }) },
        );
      }
      return stay({ kind: 'reply', reply: { type: 'error', code: POS_ERROR.CHARGE_FINAL, chargeId, state: stored.state, detail: `charge is ${stored.state}` } });
    }
    case 'status': {
      if (active && active.chargeId === input.chargeId) return stay({ kind: 'reply', reply: view(active) });
      if (input.stored) return stay({ kind: 'reply', reply: view(input.stored) });
      return stay({ kind: 'reply', reply: { type: 'error', code: POS_ERROR.UNKNOWN_CHARGE, chargeId: input.chargeId } });
    }
    case 'tap':
      return stay({ kind: 'offer', charge: active });
    case 'paid': {
      const event: Effect = {
        kind: 'event',
        event: { type: 'paid', chargeId: input.chargeId, debitId: input.debitId, amount: input.amount, currency: input.currency },
      };
      if (input.chargeId === null) return stay(event);
      const setPaid: Effect = { kind: 'set-state', chargeId: input.chargeId, state: 'paid', debitId: input.debitId };
      if (active && active.chargeId === input.chargeId) {
        return { state: { active: null }, effects: [setPaid, { kind: 'activate', charge: null }, event] };
      }
      return stay(setPaid, event);
    }
    case 'declined':
      return stay({ kind: 'event', event: { type: 'declined', chargeId: input.chargeId, code: input.code } });
  }
}
