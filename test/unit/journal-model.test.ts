import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoxError } from '../../device/core/errors.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { DebitState } from '../../device/journal/types.ts';

// Model-based check: random operation sequences against a plain in-memory model.
// Money is never lost or invented: every accepted (walletKey, counter) is held exactly once,
// and unsyncedSpend / counts always match the model.

type Op =
  | { t: 'accept'; w: number; c: number; amount: number }
  | { t: 'upload'; pick: number[]; batch: number }
  | { t: 'result'; pick: number; status: 'settled' | 'duplicate' | 'rejected' }
  | { t: 'void'; pick: number }
  | { t: 'requeue'; batch: number }
  | { t: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('accept' as const), w: fc.nat(2), c: fc.nat(6), amount: fc.integer({ min: 1, max: 10_000 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('upload' as const), pick: fc.array(fc.nat(30), { maxLength: 4 }), batch: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('result' as const), pick: fc.nat(30), status: fc.constantFrom('settled' as const, 'duplicate' as const, 'rejected' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('void' as const), pick: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('requeue' as const), batch: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
);

interface ModelDebit {
  id: string;
  wallet: string;
  amount: number;
  state: DebitState;
  batch: string | null;
  voided: boolean;
}

const walletKey = (w: number) => `${w + 1}`.repeat(64);

describe('journal against a model', () => {
  it('keeps counts, unsynced spend and the replay set equal to the model', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const dir = mkdtempSync(path.join(tmpdir(), 'journal-model-'));
        const dbPath = path.join(dir, 'j.db');
        let j = openSqliteJournal({ path: dbPath, now: () => 1 });
        const model: ModelDebit[] = [];
        try {
          for (const op of ops) {
            switch (op.t) {
              case 'accept': {
                const id = `${op.w}${op.c}`.padStart(8, '0');
                const dup = model.some((d) => d.id === id);
                const insert = () =>
                  j.commitAccept(
                    { debitId: id, walletKey: walletKey(op.w), counter: op.c, amount: op.amount, currency: 'EUR', chargeId: null,
                      acceptedAtMs: 1, cardSerial: 'c', record: new Uint8Array([op.amount & 0xff]), credentialExpiresAtMs: 10 },
                    { scanKey: `s${id}`, atMs: 1 },
                  );
                if (dup) expect(() => insert()).toThrow(BoxError);
                else {
                  insert();
                  model.push({ id, wallet: walletKey(op.w), amount: op.amount, state: 'pending', batch: null, voided: false });
                }
                break;
              }
              case 'upload': {
                const ids = op.pick.map((i) => model[i]?.id ?? 'ffff');
                const moved = j.markUploaded(ids, `b${op.batch}`);
                let expected = 0;
                for (const id of new Set(ids)) {
                  const d = model.find((m) => m.id === id);
                  if (d?.state === 'pending') {
                    d.state = 'uploaded';
                    d.batch = `b${op.batch}`;
                    expected++;
                  }
                }
                expect(moved).toBe(expected);
                break;
              }
              case 'result': {
                const d = model[op.pick];
                j.applyResults([{ debitId: d?.id ?? 'ffff', status: op.status }]);
                if (d && (d.state === 'pending' || d.state === 'uploaded')) d.state = op.status === 'rejected' ? 'rejected' : 'settled';
                break;
              }
              case 'void': {
                const d = model[op.pick];
                const r = j.voidDebit(d?.id ?? 'ffff', new Uint8Array([1]));
                if (d === undefined) expect(r).toBe('NOT_FOUND');
                else if (d.state !== 'pending') expect(r).toBe('NOT_PENDING');
                else if (d.voided) expect(r).toBe('ALREADY_VOIDED');
                else {
                  expect(r).toBe('VOIDED');
                  d.voided = true;
                }
                break;
              }
              case 'requeue': {
                const n = j.requeue(`b${op.batch}`);
                const hit = model.filter((d) => d.state === 'uploaded' && d.batch === `b${op.batch}`);
                for (const d of hit) {
                  d.state = 'pending';
                  d.batch = null;
                }
                expect(n).toBe(hit.length);
                break;
              }
              case 'reopen':
                j.close();
                j = openSqliteJournal({ path: dbPath, now: () => 1 });
                break;
            }
          }
          const count = (s: DebitState) => model.filter((d) => d.state === s).length;
          expect(j.counts()).toEqual({ pending: count('pending'), uploaded: count('uploaded'), settled: count('settled'), rejected: count('rejected') });
          for (let w = 0; w < 3; w++) {
            const spend = model
              .filter((d) => d.wallet === walletKey(w) && (d.state === 'pending' || d.state === 'uploaded') && !d.voided)
              .reduce((a, d) => a + d.amount, 0);
            expect(j.unsyncedSpend(walletKey(w), 'EUR')).toBe(spend);
            for (let c = 0; c < 7; c++) expect(j.hasReplay(walletKey(w), c)).toBe(model.some((d) => d.id === `${w}${c}`.padStart(8, '0')));
          }
          expect(j.pendingDebits(1000).map((r) => r.debitId)).toEqual(
            model.filter((d) => d.state === 'pending').map((d) => d.id),
          );
        } finally {
          j.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});
