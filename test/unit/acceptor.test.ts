import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { FakeIndicator } from '../../drivers/indicator/fake.ts';
import { Acceptor } from '../../device/app/acceptor.ts';
import { BoxClock } from '../../device/app/clock.ts';
import { BoxError } from '../../device/core/errors.ts';
import { DEFAULT_POLICY } from '../../device/core/views.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import type { Journal } from '../../device/journal/types.ts';
import { makeWorld, T0 } from '../support/world.ts';

const p = createNodeProvider();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The real journal with some methods replaced (private fields need calls bound to the real object). */
function override(j: Journal, methods: Partial<Journal>): Journal {
  return new Proxy(j, {
    get(target, prop, receiver) {
      if (prop in methods) return methods[prop as keyof Journal];
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

function setup(wrap?: (j: Journal, order: string[]) => Journal, opts: { bootedIn1970?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'acceptor-'));
  dirs.push(dir);
  const order: string[] = [];
  const raw = openSqliteJournal({ path: join(dir, 'journal.db') });
  const journal = wrap ? wrap(raw, order) : raw;
  const w = makeWorld(p);
  let wall = T0;
  const clock = new BoxClock({
    wallNow: () => (opts.bootedIn1970 ? wall - T0 : wall),
    monoNow: () => wall - T0 + 0.375,
    loadLastKnownGood: () => T0,
    saveLastKnownGood: () => {},
    floorMs: 0,
  });
  const indicator = new FakeIndicator();
  const origShow = indicator.show.bind(indicator);
  indicator.show = (pattern) => {
    order.push(`show:${pattern}`);
    origShow(pattern);
  };
  const makeAcceptor = () => new Acceptor({
    p,
    journal,
    keys: w.keysOf(w.shopA, 0),
    issuers: w.issuers,
    clock,
    indicator,
    log: silentLog,
    policy: DEFAULT_POLICY,
    repeatWindowMs: 4000,
    amountSource: () => ({ kind: 'fixed', amount: 12_50, currency: 'EUR' }),
    revocations: () => ({ version: 3, issuedAtMs: T0 - 1000, isRevoked: () => false }),
    closeSession: () => {},
  });
  const acceptor = makeAcceptor();
  return { w, acceptor, makeAcceptor, journal: raw, indicator, order, advance: (ms: number) => (wall += ms) };
}

describe('Acceptor: decide, commit durably, then signal', () => {
  it('shows accepted only after commitAccept has returned, and records the debit', () => {
    const s = setup((j, order) =>
      override(j, {
        commitAccept: (...args: Parameters<Journal['commitAccept']>) => {
          order.push('commit:start');
          j.commitAccept(...args);
          order.push('commit:done');
        },
      }),
    );
    const { text } = s.w.wallet(1).pay(s.w.shopA.cards[0]!, 12_50);
    const out = s.acceptor.handleScan(text);
    expect(out.kind).toBe('accept');
    expect(s.order).toEqual(['commit:start', 'commit:done', 'show:accepted']);
    expect(s.journal.counts().pending).toBe(1);
  });

  it('a journal I/O error gives the fault decline, never green, and nothing is recorded', () => {
    const s = setup((j) =>
      override(j, {
        commitAccept: () => {
          throw new BoxError('JOURNAL_IO', 'disk full');
        },
      }),
    );
    const out = s.acceptor.handleScan(s.w.wallet(1).pay(s.w.shopA.cards[0]!, 12_50).text);
    expect(out).toMatchObject({ kind: 'decline', code: 'JOURNAL_FAULT', category: 'fault' });
    expect(s.indicator.shown).toEqual(['declined-fault']);
    expect(s.journal.counts().pending).toBe(0);
  });

  it('the same text within the repeat window repeats the outcome and creates nothing new', () => {
    const s = setup();
    const { text } = s.w.wallet(1).pay(s.w.shopA.cards[0]!, 12_50);
    expect(s.acceptor.handleScan(text).kind).toBe('accept');
    s.advance(1500);
    expect(s.acceptor.handleScan(text)).toMatchObject({ kind: 'repeat', of: { kind: 'accept' } });
    expect(s.indicator.shown).toEqual(['accepted', 'accepted']);
    expect(s.journal.counts().pending).toBe(1);
    s.advance(5000);
    expect(s.acceptor.handleScan(text)).toMatchObject({ kind: 'decline', code: 'REPLAYED' });
    expect(s.journal.counts().pending).toBe(1);
  });

  it('a decline is recorded with its code and the matching pattern', () => {
    const s = setup();
    const out = s.acceptor.handleScan(s.w.wallet(1).pay(s.w.shopA.cards[0]!, 9_99).text);
    expect(out).toMatchObject({ kind: 'decline', code: 'AMOUNT_MISMATCH', category: 'retry' });
    expect(s.indicator.shown).toEqual(['declined-retry']);
    expect(s.journal.recentDeclines(5)[0]).toMatchObject({ code: 'AMOUNT_MISMATCH' });
  });

  it('garbage lines are declined MALFORMED and the acceptor keeps working', () => {
    const s = setup();
    for (const junk of ['', 'hello', 'QP:', 'QP:%%%%', 'x'.repeat(5000)]) {
      expect(s.acceptor.handleScan(junk)).toMatchObject({ kind: 'decline', code: 'MALFORMED' });
    }
    expect(s.acceptor.handleScan(s.w.wallet(2).pay(s.w.shopA.cards[0]!, 12_50).text).kind).toBe('accept');
  });

  it('a box whose system clock is in 1970 still accepts, using its last-known-good time', () => {
    const s = setup(undefined, { bootedIn1970: true });
    s.advance(1234);
    const out = s.acceptor.handleScan(s.w.wallet(1).pay(s.w.shopA.cards[0]!, 12_50).text);
    expect(out.kind).toBe('accept');
    expect(s.journal.counts().pending).toBe(1);
  });

  it('after a restart, the same code within the repeat window repeats the journaled outcome', () => {
    const s = setup();
    const { text } = s.w.wallet(1).pay(s.w.shopA.cards[0]!, 12_50);
    expect(s.acceptor.handleScan(text).kind).toBe('accept');
    s.advance(1000);
    const restarted = s.makeAcceptor();
    expect(restarted.handleScan(text)).toMatchObject({ kind: 'repeat', of: { kind: 'accept' } });
    expect(s.journal.counts().pending).toBe(1);
  });
});
