/**
 * The POS link over a real TCP socket: hostile lines, authentication off loopback, status after a
 * box killed between the debit commit and the charge update, and signed voids.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { macOf } from '../../device/app/pos/auth.ts';
import { MAX_LINE_BYTES } from '../../device/app/pos/messages.ts';
import { decodeVoid, verifyVoidSignature } from '../../device/core/protocol/batch.ts';
import { startPosLink } from '../../device/app/pos/start.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { T0 } from '../support/world.ts';
import { makeRig, p, posClient, type Rig } from './pos-harness.ts';

const rigs: Rig[] = [];
const clients: { close(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const r of rigs.splice(0)) await r.close();
});

async function connected(r: Rig, cfg = {}) {
  const pos = await r.startPos(cfg);
  const c = await posClient(pos.transport.address!.port);
  clients.push(c);
  return c;
}
function rig(o: Parameters<typeof makeRig>[0] = {}) {
  const r = makeRig(o);
  rigs.push(r);
  return r;
}

describe('POS link: hostile input gets an error reply and never crashes the box', () => {
  it.each([
    ['not JSON', '{"type":"charge",', 'MALFORMED'],
    ['an array', '[1,2]', 'MALFORMED'],
    ['a string', '"charge"', 'MALFORMED'],
    ['an unknown type', '{"type":"refund","chargeId":"C"}', 'UNKNOWN_TYPE'],
    ['no type', '{"chargeId":"C"}', 'UNKNOWN_TYPE'],
    ['a float amount', '{"type":"charge","chargeId":"C","amount":12.5,"currency":"EUR"}', 'BAD_FIELD'],
    ['a negative amount', '{"type":"charge","chargeId":"C","amount":-1,"currency":"EUR"}', 'BAD_FIELD'],
    ['a space in the charge id', '{"type":"charge","chargeId":"C 1","amount":1,"currency":"EUR"}', 'BAD_FIELD'],
    ['a 33-char charge id', `{"type":"status","chargeId":"${'x'.repeat(33)}"}`, 'BAD_FIELD'],
    ['an extra field', '{"type":"status","chargeId":"C","force":true}', 'BAD_FIELD'],
    ['a bad debit id', '{"type":"void","debitId":"XYZ"}', 'BAD_FIELD'],
    ['a status of an unknown charge', '{"type":"status","chargeId":"nope"}', 'UNKNOWN_CHARGE'],
    ['a cancel of an unknown charge', '{"type":"cancel","chargeId":"nope"}', 'UNKNOWN_CHARGE'],
    ['another currency', '{"type":"charge","chargeId":"C","amount":100,"currency":"USD"}', 'CURRENCY_MISMATCH'],
  ])('%s -> %s', async (_name, line, code) => {
    const c = await connected(rig());
    c.sendRaw(`${line}\n`);
    expect(await c.next()).toMatchObject({ type: 'error', code });
    // The link still works on the same connection.
    expect(await c.request({ type: 'charge', chargeId: 'OK-1', amount: 100, currency: 'EUR' })).toMatchObject({ state: 'pending' });
  });

  it('drops a line over 4 KiB with LINE_TOO_LONG (even split across writes), then carries on', async () => {
    const c = await connected(rig());
    const big = `{"type":"status","chargeId":"${'x'.repeat(MAX_LINE_BYTES)}"}`;
    c.sendRaw(big.slice(0, 3000));
    c.sendRaw(`${big.slice(3000)}\n`);
    expect(await c.next()).toMatchObject({ type: 'error', code: 'LINE_TOO_LONG' });
    expect(await c.request({ type: 'status', chargeId: 'none', id: 'q7' })).toMatchObject({ code: 'UNKNOWN_CHARGE', re: 'q7' });
  });

  it('answers pipelined commands in order, CRLF lines included', async () => {
    const c = await connected(rig());
    c.sendRaw('{"type":"charge","chargeId":"A","amount":100,"currency":"EUR","id":1}\r\n{"type":"status","chargeId":"A","id":2}\n\n{"type":"cancel","chargeId":"A","id":3}\n');
    expect(await c.next()).toMatchObject({ re: 1, state: 'pending' });
    expect(await c.next()).toMatchObject({ re: 2, state: 'pending' });
    expect(await c.next()).toMatchObject({ re: 3, state: 'cancelled' });
  });
});

describe('POS link security', () => {
  it('refuses to start on a non-loopback address without a key', async () => {
    const r = rig();
    await expect(
      startPosLink({ transport: 'tcp', host: '0.0.0.0', port: 0 }, { book: r.book, queue: r.queue, journal: r.journal, p, log: r.log }),
    ).rejects.toMatchObject({ code: 'POS_KEY_REQUIRED' });
  });

  it('with a key: unsigned, forged and replayed messages are refused; replies and events carry the box MAC', async () => {
    const r = rig();
    const key = p.randomBytes(32);
    const keyFile = join(r.dir, 'pos.key');
    writeFileSync(keyFile, `${toHex(key)}\n`);
    const c = await connected(r, { keyFile });
    const signed = (m: Record<string, unknown>) => ({ ...m, mac: macOf((k, d) => p.hmacSha256(k, d), key, m) });
    const checkBoxMac = (m: Record<string, unknown>) => expect(m['mac']).toBe(macOf((k, d) => p.hmacSha256(k, d), key, m));

    const unsigned = await c.request({ type: 'status', chargeId: 'A' });
    expect(unsigned).toMatchObject({ type: 'error', code: 'AUTH_REQUIRED' });
    checkBoxMac(unsigned);
    const forged = { ...signed({ type: 'charge', chargeId: 'A', amount: 100, currency: 'EUR', seq: 1 }), amount: 1 };
    expect(await c.request(forged)).toMatchObject({ code: 'BAD_MAC' });
    expect(await c.request({ type: 'status', chargeId: 'A', seq: 1, mac: 'zz' })).toMatchObject({ code: 'BAD_MAC' });

    const ok = signed({ type: 'charge', chargeId: 'A', amount: 100, currency: 'EUR', seq: 5 });
    const reply = await c.request(ok);
    expect(reply).toMatchObject({ type: 'charge', state: 'pending' });
    checkBoxMac(reply);
    expect(await c.request(ok)).toMatchObject({ code: 'REPLAYED_SEQ' });
    expect(await c.request(signed({ type: 'status', chargeId: 'A', seq: 4 }))).toMatchObject({ code: 'REPLAYED_SEQ' });

    await r.scan(r.w.wallet(1).pay(r.w.shopA.cards[0]!, 100).text);
    const paid = await c.next((m) => m['type'] === 'paid');
    checkBoxMac(paid);
    expect(paid['seq'] as number).toBeGreaterThan(reply['seq'] as number);

    // The last seq survives a restart: the sniffed message stays dead.
    await r.close(false);
    rigs.splice(rigs.indexOf(r), 1);
    const r2 = rig({ dir: r.dir, world: r.w });
    const c2 = await connected(r2, { keyFile });
    expect(await c2.request(ok)).toMatchObject({ code: 'REPLAYED_SEQ' });
    const after = await c2.request(signed({ type: 'status', chargeId: 'A', seq: 6 }));
    expect(after).toMatchObject({ state: 'paid' });
    expect(after['seq'] as number).toBeGreaterThan(paid['seq'] as number);
  });
});

describe('POS status after a restart', () => {
  it('a box killed between the debit commit and the charge update: status says paid after reopening', async () => {
    // dropEvents: the Acceptor commits the debit but the charge row is never updated (the process died).
    const r = rig({ dropEvents: true });
    await r.command({ type: 'charge', chargeId: 'K-1', amount: 12_50, currency: 'EUR' });
    const outcome = await r.scan(r.w.wallet(1).pay(r.w.shopA.cards[0]!, 12_50).text);
    expect(outcome).toMatchObject({ kind: 'accept', chargeId: 'K-1' });
    expect(r.journal.getCharge('K-1')?.state).toBe('pending');
    await r.close(false);
    rigs.splice(rigs.indexOf(r), 1);

    const r2 = rig({ dir: r.dir, world: r.w });
    const debitId = (outcome as { debitId: string }).debitId;
    expect(r2.journal.getCharge('K-1')).toMatchObject({ state: 'paid', debitId }); // reconciled at start-up
    expect(r2.book.active).toBeNull();
    const c = await connected(r2);
    expect(await c.request({ type: 'status', chargeId: 'K-1' })).toMatchObject({ state: 'paid', debitId, amount: 12_50 });
    expect(await c.request({ type: 'charge', chargeId: 'K-1', amount: 12_50, currency: 'EUR' })).toMatchObject({ state: 'paid', debitId });
  });

  it('a charge pending at restart is resumed and can still be paid', async () => {
    const r = rig();
    await r.command({ type: 'charge', chargeId: 'R-1', amount: 12_50, currency: 'EUR' });
    await r.close(false);
    rigs.splice(rigs.indexOf(r), 1);
    const r2 = rig({ dir: r.dir, world: r.w });
    expect(r2.book.active).toMatchObject({ chargeId: 'R-1', state: 'pending' });
    expect(await r2.scan(r2.w.wallet(1).pay(r2.w.shopA.cards[0]!, 12_50).text)).toMatchObject({ kind: 'accept', chargeId: 'R-1' });
    expect(await r2.command({ type: 'status', chargeId: 'R-1' })).toMatchObject({ state: 'paid' });
  });
});

describe('POS void', () => {
  it('voids a pending debit with a record signed by the box, once; refuses unknown and uploaded debits', async () => {
    const r = rig();
    const c = await connected(r);
    await c.request({ type: 'charge', chargeId: 'V-1', amount: 12_50, currency: 'EUR' });
    const outcome = await r.scan(r.w.wallet(1).pay(r.w.shopA.cards[0]!, 12_50).text);
    const debitId = (outcome as { debitId: string }).debitId;

    const voided = await c.request({ type: 'void', debitId });
    expect(voided).toMatchObject({ type: 'voided', debitId, chargeId: 'V-1' });
    const record = Uint8Array.from(Buffer.from(voided['record'] as string, 'hex'));
    // The protocol's void record, as the acquirer decodes and verifies it.
    const decoded = decodeVoid(record);
    expect(decoded).toMatchObject({ voidedAt: Math.floor(T0 / 1000) });
    expect(toHex(decoded!.debitId)).toBe(debitId);
    expect(verifyVoidSignature(p, r.w.device[0]!.publicKey, decoded!)).toBe(true);
    expect(verifyVoidSignature(p, r.w.device[1]!.publicKey, decoded!)).toBe(false);
    expect(r.journal.getDebit(debitId)?.voidRecord).toEqual(record);
    expect(await c.request({ type: 'status', chargeId: 'V-1' })).toMatchObject({ state: 'paid', voided: true });

    expect(await c.request({ type: 'void', debitId })).toMatchObject({ type: 'error', code: 'ALREADY_VOIDED' });
    expect(await c.request({ type: 'void', debitId: '00'.repeat(16) })).toMatchObject({ type: 'error', code: 'UNKNOWN_DEBIT' });

    await c.request({ type: 'charge', chargeId: 'V-2', amount: 12_50, currency: 'EUR' });
    const second = (await r.scan(r.w.wallet(2).pay(r.w.shopA.cards[0]!, 12_50).text)) as { debitId: string };
    r.journal.markUploaded([second.debitId], 'batch-1');
    expect(await c.request({ type: 'void', debitId: second.debitId })).toMatchObject({ type: 'error', code: 'DEBIT_UPLOADED' });
  });
});
