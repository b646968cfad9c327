/**
 * `scanner decode <text|file> --keys <stateDir>`: the decision as JSON, for technicians and
 * integrators. It opens the journal read-only when present, so the replay view is the box's own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide } from '../core/decide.ts';
import { parseAmount } from '../core/money.ts';
import { DEFAULT_POLICY, type AmountSource } from '../core/views.ts';
import { createNodeProvider } from '../crypto/node-provider.ts';
import { openSqliteJournal } from '../journal/sqlite-journal.ts';
import { FileKeyStore } from '../keys/file-keystore.ts';
import { loadProvisioned } from './provision.ts';
import { revocationView, storedRevocations } from './revocation-view.ts';

export interface DecodeOptions {
  input: string;
  keysDir: string;
  /** The pending charge or fixed price, e.g. "12.50"; without it the amount check uses the box config's absence: NO_CHARGE. */
  amount?: string;
  chargeId?: string;
  requireChallenge?: boolean;
}

export function decodeCommand(o: DecodeOptions): object {
  const p = createNodeProvider();
  const text = o.input.startsWith('QP:') ? o.input : existsSync(o.input) ? readFileSync(o.input, 'utf8').trim() : o.input;
  const now = Date.now();
  const { identity } = loadProvisioned(new FileKeyStore({ stateDir: o.keysDir }), p, Math.floor(now / 1000));
  let amount: AmountSource = { kind: 'none' };
  if (o.amount !== undefined) {
    const v = parseAmount(o.amount, identity.ownCard.currencyExponent);
    if (v === null) throw new Error(`decode: --amount expects a value like 12.50, got ${JSON.stringify(o.amount)}`);
    amount = o.chargeId ? { kind: 'charge', chargeId: o.chargeId, amount: v, currency: identity.ownCard.currency } : { kind: 'fixed', amount: v, currency: identity.ownCard.currency };
  }
  const dbPath = join(o.keysDir, 'journal.db');
  const journal = existsSync(dbPath) ? openSqliteJournal({ path: dbPath, readonly: true }) : undefined;
  try {
    // An inspection without a stored list assumes a fresh one: it shows every other check.
    const stored = journal ? storedRevocations(journal) : undefined;
    const d = decide(p, {
      text,
      keys: { ...identity, sessions: { get: () => undefined, recentlyClosed: () => false } },
      issuers: identity.issuers,
      revocations: journal && stored
        ? revocationView(journal)()
        : { version: 0, issuedAtMs: now, isRevoked: () => false },
      replay: journal ? { has: (w, c) => journal.hasReplay(w, c), unsyncedSpend: (w, c) => journal.unsyncedSpend(w, c) } : { has: () => false, unsyncedSpend: () => 0 },
      amount,
      clock: { lowerMs: now, upperMs: now },
      policy: { ...DEFAULT_POLICY, requireChallenge: o.requireChallenge ?? false },
    });
    const card = identity.ownCard;
    const box = { merchantId: identity.merchantId, card: card.serial, till: card.tillId, displayName: card.displayName };
    if (d.kind === 'accept') {
      const { record, kind: _kind, ...rest } = d;
      return { decision: 'accept', ...rest, recordBytes: record.length, box, note: 'inspection only: nothing was recorded' };
    }
    return { decision: 'decline', code: d.code, detail: d.detail, box };
  } finally {
    journal?.close();
  }
}
