/** The pure charge machine: each row of the table in charge-machine.ts / docs/pos-link.md. */
import { describe, expect, it } from 'vitest';
import { type ChargeView, transition } from '../../device/app/pos/charge-machine.ts';

const A: ChargeView = { chargeId: 'A', amount: 1250, currency: 'EUR', state: 'pending', debitId: null };
const kinds = (t: ReturnType<typeof transition>) => t.effects.map((e) => e.kind);

describe('charge machine', () => {
  it('creates a new charge when idle', () => {
    const t = transition({ active: null }, { kind: 'charge', chargeId: 'A', amount: 1250, currency: 'EUR', stored: undefined });
    expect(t.state.active).toEqual(A);
    expect(kinds(t)).toEqual(['insert', 'activate', 'reply']);
  });

  it('resending the active charge with the same terms changes nothing (sessions kept)', () => {
    const t = transition({ active: A }, { kind: 'charge', chargeId: 'A', amount: 1250, currency: 'EUR', stored: A });
    expect(t.state.active).toBe(A);
    expect(t.effects).toEqual([{ kind: 'reply', reply: { type: 'charge', ...A } }]);
  });

  it('the same id with other terms is CHARGE_CONFLICT, active or stored', () => {
    for (const s of [{ active: A }, { active: null }]) {
      const t = transition(s, { kind: 'charge', chargeId: 'A', amount: 999, currency: 'EUR', stored: A });
      expect(t.state).toBe(s);
      expect(t.effects).toMatchObject([{ kind: 'reply', reply: { type: 'error', code: 'CHARGE_CONFLICT' } }]);
    }
  });

  it('a final stored charge is answered, never re-created', () => {
    const paid: ChargeView = { ...A, state: 'paid', debitId: 'ab'.repeat(16) };
    const t = transition({ active: null }, { kind: 'charge', chargeId: 'A', amount: 1250, currency: 'EUR', stored: paid });
    expect(t.state.active).toBeNull();
    expect(t.effects).toEqual([{ kind: 'reply', reply: { type: 'charge', ...paid } }]);
  });

  it('a stored pending charge is resumed without a second insert', () => {
    const t = transition({ active: null }, { kind: 'charge', chargeId: 'A', amount: 1250, currency: 'EUR', stored: A });
    expect(kinds(t)).toEqual(['activate', 'reply']);
  });

  it('a new charge replaces the active one: cancelled, its sessions erased', () => {
    const t = transition({ active: A }, { kind: 'charge', chargeId: 'B', amount: 1500, currency: 'EUR', stored: undefined });
    expect(t.state.active?.chargeId).toBe('B');
    expect(t.effects.slice(0, 2)).toEqual([
      { kind: 'set-state', chargeId: 'A', state: 'cancelled', debitId: null },
      { kind: 'close-sessions', chargeId: 'A' },
    ]);
    expect(t.effects.at(-1)).toMatchObject({ kind: 'reply', reply: { chargeId: 'B', replaced: 'A' } });
  });

  it('cancel: active -> none; unknown -> UNKNOWN_CHARGE; paid -> CHARGE_FINAL; cancelled -> idempotent', () => {
    const c = transition({ active: A }, { kind: 'cancel', chargeId: 'A', stored: A });
    expect(c.state.active).toBeNull();
    expect(kinds(c)).toEqual(['set-state', 'close-sessions', 'activate', 'reply']);
    expect(transition({ active: null }, { kind: 'cancel', chargeId: 'X', stored: undefined }).effects).toMatchObject([
      { reply: { code: 'UNKNOWN_CHARGE' } },
    ]);
    const paid: ChargeView = { ...A, state: 'paid', debitId: 'ab'.repeat(16) };
    expect(transition({ active: null }, { kind: 'cancel', chargeId: 'A', stored: paid }).effects).toMatchObject([
      { reply: { code: 'CHARGE_FINAL', state: 'paid' } },
    ]);
    const cancelled: ChargeView = { ...A, state: 'cancelled' };
    expect(transition({ active: null }, { kind: 'cancel', chargeId: 'A', stored: cancelled }).effects).toMatchObject([
      { reply: { type: 'charge', state: 'cancelled' } },
    ]);
  });

  it('tap offers the active charge or nothing', () => {
    expect(transition({ active: A }, { kind: 'tap' }).effects).toEqual([{ kind: 'offer', charge: A }]);
    expect(transition({ active: null }, { kind: 'tap' }).effects).toEqual([{ kind: 'offer', charge: null }]);
  });

  it('paid closes the active charge; declined leaves it pending', () => {
    const d = 'cd'.repeat(16);
    const t = transition({ active: A }, { kind: 'paid', chargeId: 'A', debitId: d, amount: 1250, currency: 'EUR' });
    expect(t.state.active).toBeNull();
    expect(kinds(t)).toEqual(['set-state', 'activate', 'event']);
    const n = transition({ active: A }, { kind: 'declined', chargeId: 'A', code: 'STALE' });
    expect(n.state.active).toBe(A);
    expect(n.effects).toEqual([{ kind: 'event', event: { type: 'declined', chargeId: 'A', code: 'STALE' } }]);
  });
});
