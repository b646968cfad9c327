import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { signBatch } from '../../device/core/protocol/batch.ts';
import { type PlanDebit, type PlanState, planUpload, type Step } from '../../device/core/reconcile-plan.ts';

const debit = (n: number, size = 200, voided = false): PlanDebit => ({
  debitId: `d${n}`,
  record: new Uint8Array(size).fill(n & 0xff),
  voidRecord: voided ? new Uint8Array(91).fill(0xee) : null,
});

const state = (over: Partial<PlanState>): PlanState => ({ pending: [], inFlight: [], nextBatchSeq: 1, maxEntries: 100, maxBytes: 65536, ...over });
const sends = (steps: Step[]) => steps.filter((s) => s.kind === 'send');

describe('planUpload', () => {
  it('nothing to do is exactly one idle step', () => {
    expect(planUpload(state({}))).toEqual([{ kind: 'idle' }]);
  });

  it('one pending debit -> one send with the next batchSeq', () => {
    const steps = planUpload(state({ pending: [debit(1)], nextBatchSeq: 7 }));
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ kind: 'send', batchSeq: 7, debitIds: ['d1'] });
  });

  it('an in-flight batch is resent first with the SAME batchSeq; new batches take later seqs', () => {
    const steps = planUpload(state({ pending: [debit(3)], inFlight: [{ batchId: 'b9', batchSeq: 9, debitIds: ['d1', 'd2'] }], nextBatchSeq: 5 }));
    expect(steps).toEqual([
      { kind: 'resend', batchId: 'b9', batchSeq: 9, debitIds: ['d1', 'd2'] },
      expect.objectContaining({ kind: 'send', batchSeq: 10, debitIds: ['d3'] }),
    ]);
  });

  it('resends in batchSeq order', () => {
    const steps = planUpload(
      state({
        inFlight: [
          { batchId: 'b4', batchSeq: 4, debitIds: ['a'] },
          { batchId: 'b2', batchSeq: 2, debitIds: ['b'] },
        ],
        nextBatchSeq: 5,
      }),
    );
    expect(steps.map((s) => (s.kind === 'resend' ? s.batchSeq : -1))).toEqual([2, 4]);
  });

  it('a pending debit already in an in-flight batch (crash before markUploaded) is not planned again', () => {
    const steps = planUpload(state({ pending: [debit(1), debit(2)], inFlight: [{ batchId: 'b1', batchSeq: 1, debitIds: ['d1'] }], nextBatchSeq: 2 }));
    expect(sends(steps).flatMap((s) => s.debitIds)).toEqual(['d2']);
  });

  it('a voided debit travels with its void record, debit entry first', () => {
    const [s] = sends(planUpload(state({ pending: [debit(1, 200, true)] })));
    expect(s?.entries.map((e) => e.type)).toEqual([1, 2]);
    expect(s?.entries[1]?.bytes).toEqual(new Uint8Array(91).fill(0xee));
  });

  it('splits on maxEntries without separating a debit from its void', () => {
    const steps = sends(planUpload(state({ pending: [debit(1), debit(2, 200, true), debit(3)], maxEntries: 2 })));
    expect(steps.map((s) => s.debitIds)).toEqual([['d1'], ['d2'], ['d3']]);
    expect(steps.map((s) => s.batchSeq)).toEqual([1, 2, 3]);
  });

  it('splits on maxBytes; the encodedBytes estimate equals the real signed batch length', () => {
    const p = nobleProvider;
    const dev = p.ed25519Signer(new Uint8Array(32).fill(3));
    const pending = Array.from({ length: 10 }, (_, i) => debit(i, 150 + i, i % 3 === 0));
    const steps = sends(planUpload(state({ pending, maxBytes: 700 })));
    expect(steps.length).toBeGreaterThan(1);
    for (const s of steps) {
      const bytes = signBatch(new Uint8Array(8), s.batchSeq, s.entries, dev);
      expect(bytes.length).toBe(s.encodedBytes);
      expect(bytes.length).toBeLessThanOrEqual(700);
    }
  });

  it('one debit larger than maxBytes still gets a batch of its own', () => {
    const steps = sends(planUpload(state({ pending: [debit(1, 50), debit(2, 5000), debit(3, 50)], maxBytes: 1000 })));
    expect(steps.map((s) => s.debitIds)).toEqual([['d1'], ['d2'], ['d3']]);
  });

  it('a maxEntries below 2 is treated as 2', () => {
    const steps = sends(planUpload(state({ pending: [debit(1, 10, true)], maxEntries: 1 })));
    expect(steps[0]?.entries).toHaveLength(2);
  });

  it('property: every pending debit not in flight is sent exactly once, in order, within the limits, with fresh consecutive seqs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: fc.integer({ min: 1, max: 600 }), voided: fc.boolean() }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 39 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 200, max: 3000 }),
        (ds, inFlightIdx, nextBatchSeq, maxEntries, maxBytes) => {
          const pending = ds.map((d, i) => debit(i, d.size, d.voided));
          const flying = [...new Set(inFlightIdx)].filter((i) => i < pending.length).map((i) => `d${i}`);
          const inFlight = flying.length > 0 ? [{ batchId: 'bx', batchSeq: nextBatchSeq + 3, debitIds: flying }] : [];
          const steps = planUpload({ pending, inFlight, nextBatchSeq, maxEntries, maxBytes });
          if (pending.length === 0 && inFlight.length === 0) {
            expect(steps).toEqual([{ kind: 'idle' }]);
            return true;
          }
          expect(steps.some((s) => s.kind === 'idle')).toBe(false);
          const sent = sends(steps);
          const expected = pending.map((d) => d.debitId).filter((id) => !flying.includes(id));
          expect(sent.flatMap((s) => s.debitIds)).toEqual(expected);
          const firstSeq = inFlight.length > 0 ? nextBatchSeq + 4 : nextBatchSeq;
          expect(sent.map((s) => s.batchSeq)).toEqual(sent.map((_, i) => firstSeq + i));
          for (const s of sent) {
            expect(s.entries.length).toBeLessThanOrEqual(maxEntries);
            if (s.debitIds.length > 1) expect(s.encodedBytes).toBeLessThanOrEqual(maxBytes);
            const debitEntries = s.entries.filter((e) => e.type === 1).length;
            expect(debitEntries).toBe(s.debitIds.length);
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});
