/**
 * Acquirer and ledger over real HTTP on 127.0.0.1: settle, idempotent resend, duplicates, tampered
 * records, risk flags, voids and refunds. The books must balance after every scenario.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { ENTRY, signVoid } from '../../device/core/protocol/batch.ts';
import { decodeDebit, signDebit } from '../../device/core/protocol/debit.ts';
import { join } from 'node:path';
import { Backend } from '../../backend/lib/backend.ts';
import { getMeta, migrate, openBackendDb, SCHEMA_VERSION } from '../../backend/lib/db.ts';
import { type Fixture, startFixture } from '../../backend/testing/http-fixture.ts';

const SHOP_A = { merchantId: 'SHOP-A', displayName: 'Shop A', currency: 'EUR', location: { lat: 52.52, lon: 13.405 } };

interface Answer {
  batchSeq: number;
  results: { debitId: string; status: string; code?: string }[];
  voids: { debitId: string; status: string; code?: string }[];
}

let f: Fixture;
beforeEach(async () => {
  f = await startFixture();
});
afterEach(async () => {
  expect(f.backend.ledger.total()).toBe(0);
  await f.close();
});

async function flagsOf(kind: string) {
  const r = await f.http('GET', '/v1/acquirer/flags');
  return (r.body.flags as { kind: string; walletKey: string; debitId: string }[]).filter((x) => x.kind === kind);
}

describe('POST /v1/box/batches', () => {
  it('settles every debit once; a resent batch gets the same answer and moves no money', async () => {
    const box = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const bob = await f.newWallet('bob', 100_00);
    const d1 = f.pay(box, alice, 12_50);
    const d2 = f.pay(box, bob, 7_00);
    const d3 = f.pay(box, alice, 3_00);
    const batch = f.batchOf(box, f.debits(d1.record, d2.record, d3.record));

    const first = await box.client.uploadBatch(batch);
    expect(first.status).toBe(200);
    const a = first.body as Answer;
    expect(a.results.map((r) => [r.debitId, r.status])).toEqual([
      [d1.debitId, 'settled'],
      [d2.debitId, 'settled'],
      [d3.debitId, 'settled'],
    ]);
    expect(await f.balance('alice')).toBe(100_00 - 15_50);
    expect(await f.balance('bob')).toBe(100_00 - 7_00);
    expect(await f.balance('merchant:SHOP-A')).toBe(22_50);

    // The acknowledgement was lost: the box sends the very same batch again.
    const again = await box.client.uploadBatch(batch);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await f.balance('alice')).toBe(100_00 - 15_50);
    expect(await f.balance('merchant:SHOP-A')).toBe(22_50);
    expect(f.backend.ledger.entrySum('merchant:SHOP-A')).toBe(22_50);

    // A back end restarted after the commit (killed before answering) answers the resend the same way.
    const restarted = Backend.open({ dbPath: join(f.dir, 'backend.db'), provider: f.p, now: () => f.clock.ms });
    try {
      const row = restarted.authority.box(box.client.keyIdHex)!;
      expect(restarted.answerBatch(row, batch)).toEqual(first.body);
      expect(restarted.ledger.account('alice')?.balance).toBe(100_00 - 15_50);
    } finally {
      restarted.close();
    }
  });

  it('answers duplicate for a debit already settled by an earlier batch, and refuses another batch under a used batchSeq', async () => {
    const box = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const d1 = f.pay(box, alice, 10_00);
    const d2 = f.pay(box, alice, 2_00);
    expect(((await box.client.uploadBatch(f.batchOf(box, f.debits(d1.record)))).body as Answer).results[0]!.status).toBe('settled');
    const second = (await box.client.uploadBatch(f.batchOf(box, f.debits(d1.record, d2.record)))).body as Answer;
    expect(second.results.map((r) => r.status)).toEqual(['duplicate', 'settled']);
    expect(await f.balance('alice')).toBe(88_00);
    const conflict = await box.client.uploadBatch(f.batchOf(box, f.debits(d2.record), 1));
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: 'BATCH_SEQ_CONFLICT' });
  });

  it('rejects a tampered record with a code and reports it in /v1/box/updates', async () => {
    const box = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const d = f.pay(box, alice, 12_50);
    const flipped = d.record.slice();
    flipped[60] = flipped[60]! ^ 1; // inside the signed body: the device signature breaks
    const rec = decodeDebit(d.record)!;
    const auth = rec.authorization.slice();
    auth[auth.length - 1] = auth[auth.length - 1]! ^ 1; // the wallet signature's last byte
    const resigned = signDebit({ ...rec, authorization: auth }, box.identity.device); // a box that signs anything
    const r = (await box.client.uploadBatch(f.batchOf(box, f.debits(flipped, resigned)))).body as Answer;
    expect(r.results.map((x) => x.code)).toEqual(['BAD_DEVICE_SIGNATURE', 'BAD_SIGNATURE']);
    expect(await f.balance('alice')).toBe(100_00);
    const u = await box.client.request('GET', '/v1/box/updates?rosterVersion=999999');
    expect((u.body as { rejections: unknown[] }).rejections).toContainEqual({ debitId: d.debitId, code: 'BAD_SIGNATURE' });
    const garbage = await box.client.uploadBatch(new Uint8Array([1, 2, 3]));
    expect(garbage.status).toBe(400);
    expect(garbage.body).toMatchObject({ error: 'MALFORMED_BATCH' });
  });
});

describe('risk flags', () => {
  it('settles a counter reused at another box (a clone or a restored backup) at the issuer\'s cost and flags it; the same authorization again is duplicate', async () => {
    const till1 = await f.enrolBox(SHOP_A);
    const till2 = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const d1 = f.pay(till1, alice, 5_00);
    // The clone restores the wallet from a backup taken before the payment: the same counter again.
    const d2 = f.pay(till2, f.cloneWallet(alice, 0), 9_00);
    expect(d2.debitId).toBe(d1.debitId);
    expect(((await till1.client.uploadBatch(f.batchOf(till1, f.debits(d1.record)))).body as Answer).results[0]!.status).toBe('settled');
    const r = (await till2.client.uploadBatch(f.batchOf(till2, f.debits(d2.record)))).body as Answer;
    expect(r.results[0]).toEqual({ debitId: d1.debitId, status: 'settled' });
    const flags = await flagsOf('COUNTER_REUSE_ACROSS_BOXES');
    expect(flags).toHaveLength(1);
    expect(flags[0]!.walletKey).toBe(d1.walletKey);
    expect(flags[0]).toMatchObject({ debitId: d1.debitId, detail: { firstAmount: 5_00, secondAmount: 9_00, firstBox: till1.client.keyIdHex, secondBox: till2.client.keyIdHex } });
    // The customer pays once; the issuer pays the second merchant claim.
    expect(await f.balance('alice')).toBe(95_00);
    expect(await f.balance('merchant:SHOP-A')).toBe(14_00);
    expect(await f.balance('issuer:loss:EUR')).toBe(-9_00);

    // Either authorization uploaded again, in a new batch, from either box: duplicate, no money moves.
    const rec1 = decodeDebit(d1.record)!;
    const d1AtTill2 = signDebit({ ...rec1, deviceKeyId: till2.identity.deviceKeyId }, till2.identity.device);
    const again2 = (await till2.client.uploadBatch(f.batchOf(till2, f.debits(d2.record, d1AtTill2)))).body as Answer;
    expect(again2.results.map((x) => x.status)).toEqual(['duplicate', 'duplicate']);
    const again1 = (await till1.client.uploadBatch(f.batchOf(till1, f.debits(d1.record)))).body as Answer;
    expect(again1.results[0]!.status).toBe('duplicate');
    expect(await f.balance('merchant:SHOP-A')).toBe(14_00);
    expect(await flagsOf('COUNTER_REUSE_ACROSS_BOXES')).toHaveLength(1);

    // A refund of the first debit comes from the customer, not from the issuer's reuse loss.
    expect((await f.http('POST', '/v1/acquirer/refunds', { debitId: d1.debitId, amount: 5_00 })).status).toBe(200);
    expect(await f.balance('alice')).toBe(100_00);
    expect(await f.balance('issuer:loss:EUR')).toBe(-9_00);
  });

  it('compares rows settled before schema v2 (no content hash) by their authorization', async () => {
    const box = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const d = f.pay(box, alice, 5_00);
    await box.client.uploadBatch(f.batchOf(box, f.debits(d.record)));
    f.backend.db.prepare('UPDATE debits SET content_hash = NULL').run();
    const r = (await box.client.uploadBatch(f.batchOf(box, f.debits(d.record)))).body as Answer;
    expect(r.results[0]!.status).toBe('duplicate');
    expect(await f.balance('alice')).toBe(95_00);
  });

  it('settles but flags spending over the offline limit across two boxes', async () => {
    const till1 = await f.enrolBox(SHOP_A);
    const till2 = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00, 20_00);
    const d1 = f.pay(till1, alice, 15_00);
    const d2 = f.pay(till2, alice, 15_00); // each box is within the limit, the sum is not
    await till1.client.uploadBatch(f.batchOf(till1, f.debits(d1.record)));
    expect(await flagsOf('OVER_LIMIT_ACROSS_BOXES')).toHaveLength(0);
    const r = (await till2.client.uploadBatch(f.batchOf(till2, f.debits(d2.record)))).body as Answer;
    expect(r.results[0]!.status).toBe('settled');
    const flags = await flagsOf('OVER_LIMIT_ACROSS_BOXES');
    expect(flags.map((x) => x.debitId)).toEqual([d2.debitId]);
    expect(await f.balance('alice')).toBe(70_00);
  });

  it('settles a debit the customer cannot cover, books the shortfall to the issuer and flags it', async () => {
    const box = await f.enrolBox(SHOP_A);
    const bob = await f.newWallet('bob', 5_00);
    const d = f.pay(box, bob, 12_50);
    const r = (await box.client.uploadBatch(f.batchOf(box, f.debits(d.record)))).body as Answer;
    expect(r.results[0]!.status).toBe('settled');
    expect(await f.balance('bob')).toBe(0);
    expect(await f.balance('issuer:loss:EUR')).toBe(-7_50);
    expect(await f.balance('merchant:SHOP-A')).toBe(12_50);
    expect((await flagsOf('INSUFFICIENT_FUNDS')).map((x) => x.debitId)).toEqual([d.debitId]);
  });

  it('rejects and flags a revoked wallet the box accepted although its list already named it; pays one accepted before', async () => {
    const box = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const before = f.pay(box, alice, 1_00); // the box still holds list v0
    const rv = await f.http('POST', '/v1/issuer/revoke', { walletPublicKey: toHex(alice.publicKey) });
    expect(rv.body.version).toBe(1);
    box.revocations = { version: 1, issuedAtMs: f.clock.ms, wallets: new Set([toHex(alice.publicKey)]) };
    const after = f.pay(box, alice, 2_00, { revoked: false }); // a faulty box ignores its own list
    const r = (await box.client.uploadBatch(f.batchOf(box, f.debits(before.record, after.record)))).body as Answer;
    expect(r.results.map((x) => [x.status, x.code])).toEqual([
      ['settled', undefined],
      ['rejected', 'REVOKED'],
    ]);
    expect((await flagsOf('REVOKED_AFTER_REACHING_BOX')).map((x) => x.debitId)).toEqual([after.debitId]);
    expect(await f.balance('alice')).toBe(99_00);
  });
});

describe('voids and refunds', () => {
  it('applies a box-signed void to an unsettled debit and refuses one for a settled debit', async () => {
    const box = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const kept = f.pay(box, alice, 4_00);
    const cancelled = f.pay(box, alice, 6_00);
    const voidOf = (id: string) => ({ type: ENTRY.void, bytes: signVoid(Buffer.from(id, 'hex'), Math.floor(f.clock.ms / 1000), box.identity.device) });
    const r = (await box.client.uploadBatch(f.batchOf(box, [...f.debits(kept.record, cancelled.record), voidOf(cancelled.debitId)]))).body as Answer;
    expect(r.voids).toEqual([{ debitId: cancelled.debitId, status: 'voided' }]);
    expect(r.results.map((x) => [x.status, x.code])).toEqual([
      ['settled', undefined],
      ['rejected', 'VOIDED'],
    ]);
    const late = (await box.client.uploadBatch(f.batchOf(box, [voidOf(kept.debitId)]))).body as Answer;
    expect(late.voids).toEqual([{ debitId: kept.debitId, status: 'rejected', code: 'ALREADY_SETTLED' }]);
    expect(await f.balance('alice')).toBe(96_00);
  });

  it('refunds a settled debit in parts and refuses more than was paid', async () => {
    const box = await f.enrolBox(SHOP_A);
    const alice = await f.newWallet('alice', 100_00);
    const d = f.pay(box, alice, 10_00);
    await box.client.uploadBatch(f.batchOf(box, f.debits(d.record)));
    const r1 = await f.http('POST', '/v1/acquirer/refunds', { debitId: d.debitId, amount: 4_00 });
    expect(r1.body).toMatchObject({ status: 'partially_refunded', refunded: 4_00 });
    const r2 = await f.http('POST', '/v1/acquirer/refunds', { debitId: d.debitId, amount: 7_00 });
    expect(r2.status).toBe(409);
    expect(r2.body.error).toBe('REFUND_EXCEEDS');
    const r3 = await f.http('POST', '/v1/acquirer/refunds', { debitId: d.debitId, amount: 6_00 });
    expect(r3.body).toMatchObject({ status: 'refunded', refunded: 10_00 });
    expect(await f.balance('alice')).toBe(100_00);
    expect(await f.balance('merchant:SHOP-A')).toBe(0);
    expect((await f.http('POST', '/v1/acquirer/refunds', { debitId: 'ab'.repeat(16), amount: 1 })).status).toBe(404);
  });
});

describe('schema migrations (backend/lib/db.ts)', () => {
  it('brings a version 1 database to the current version once, and refuses a newer one', () => {
    const path = join(f.dir, 'v1.db');
    const v1 = openBackendDb(path);
    v1.exec('DROP TABLE counter_reuses');
    v1.exec('ALTER TABLE debits DROP COLUMN content_hash');
    v1.prepare("UPDATE meta SET value = '1' WHERE key = 'schema_version'").run();
    v1.close();
    const db = openBackendDb(path);
    try {
      expect(getMeta(db, 'schema_version')).toBe(String(SCHEMA_VERSION));
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'counter_reuses'").get()).toBeDefined();
      expect((db.prepare('PRAGMA table_info(debits)').all() as { name: string }[]).map((c) => c.name)).toContain('content_hash');
      expect(migrate(db)).toBe(SCHEMA_VERSION); // nothing left to do
      db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    } finally {
      db.close();
    }
    expect(() => openBackendDb(path)).toThrow(/schema version 99/);
  });
});
