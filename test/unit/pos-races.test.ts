/**
 * Each race of the POS state machine (docs/pos-link.md), driven over a real TCP socket on
 * 127.0.0.1:0, with NFC taps from the fake phone and scans through the writer queue.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makePhone, makeRig, posClient, type Rig } from './pos-harness.ts';

let rig: Rig | undefined;
let client: Awaited<ReturnType<typeof posClient>> | undefined;
afterEach(async () => {
  client?.close();
  await rig?.close();
  rig = undefined;
  client = undefined;
});

async function setup() {
  rig = makeRig({ mode: 'pos' });
  await rig.nfc.start();
  const pos = await rig.startPos();
  client = await posClient(pos.transport.address!.port);
  return { rig, client };
}

const charge = (chargeId: string, amount: number, id?: number) => ({ type: 'charge', chargeId, amount, currency: 'EUR', ...(id === undefined ? {} : { id }) });

describe('POS races', () => {
  it('charge, cancel, then scan -> NO_CHARGE (and a declined event without a charge id)', async () => {
    const { rig, client } = await setup();
    const code = rig.w.wallet(1).pay(rig.w.shopA.cards[0]!, 12_50).text;
    expect(await client.request(charge('C-1', 12_50, 1))).toMatchObject({ type: 'charge', state: 'pending', re: 1 });
    expect(await client.request({ type: 'cancel', chargeId: 'C-1' })).toMatchObject({ state: 'cancelled' });
    expect(await rig.scan(code)).toMatchObject({ kind: 'decline', code: 'NO_CHARGE' });
    expect(await client.next((m) => m['type'] === 'declined')).toEqual({ type: 'declined', chargeId: null, code: 'NO_CHARGE' });
  });

  it('a static code for the old amount scanned after the charge changed -> AMOUNT_MISMATCH; the old charge is cancelled', async () => {
    const { rig, client } = await setup();
    await client.request(charge('C-1', 12_50));
    const code = rig.w.wallet(1).pay(rig.w.shopA.cards[0]!, 12_50).text;
    expect(await client.request(charge('C-2', 15_00))).toMatchObject({ chargeId: 'C-2', state: 'pending', replaced: 'C-1' });
    expect(await rig.scan(code)).toMatchObject({ kind: 'decline', code: 'AMOUNT_MISMATCH' });
    expect(await client.next((m) => m['type'] === 'declined')).toEqual({ type: 'declined', chargeId: 'C-2', code: 'AMOUNT_MISMATCH' });
    expect(await client.request({ type: 'status', chargeId: 'C-1' })).toMatchObject({ state: 'cancelled' });
    expect(await client.request({ type: 'status', chargeId: 'C-2' })).toMatchObject({ state: 'pending' });
  });

  it('tap, then cancel: the session is erased and the tapped code is declined SESSION_EXPIRED', async () => {
    const { rig, client } = await setup();
    await client.request(charge('C-1', 12_50));
    const phone = makePhone(rig.w.wallet(1));
    await rig.reader.tap(phone.hce);
    expect(rig.sessions.size).toBe(1);
    await client.request({ type: 'cancel', chargeId: 'C-1' });
    expect(rig.sessions.size).toBe(0);
    expect(await rig.scan(phone.payTapped())).toMatchObject({ kind: 'decline', code: 'SESSION_EXPIRED' });
  });

  it('tap, then the charge changes: the NFC code bound to the old charge is declined, the new one can be tapped and paid', async () => {
    const { rig, client } = await setup();
    await client.request(charge('C-1', 12_50));
    const phone = makePhone(rig.w.wallet(1));
    await rig.reader.tap(phone.hce);
    const stale = phone.payTapped();
    await client.request(charge('C-2', 20_00));
    expect(await rig.scan(stale)).toMatchObject({ kind: 'decline', code: 'SESSION_EXPIRED' });
    await rig.reader.tap(phone.hce);
    expect(phone.state.answer).toMatchObject({ chargeId: 'C-2', amount: 20_00 });
    const paid = await rig.scan(phone.payTapped());
    expect(paid).toMatchObject({ kind: 'accept', chargeId: 'C-2' });
    expect(await client.next((m) => m['type'] === 'paid')).toMatchObject({ chargeId: 'C-2', amount: 20_00 });
  });

  it('a charge resend is idempotent: same state, no second row, live sessions kept; other terms -> CHARGE_CONFLICT', async () => {
    const { rig, client } = await setup();
    const first = await client.request(charge('C-1', 12_50));
    const created = rig.journal.getCharge('C-1');
    const phone = makePhone(rig.w.wallet(1));
    await rig.reader.tap(phone.hce);
    expect(await client.request(charge('C-1', 12_50))).toEqual(first);
    expect(rig.journal.getCharge('C-1')).toEqual(created);
    expect(rig.sessions.size).toBe(1);
    expect(await client.request(charge('C-1', 13_00))).toMatchObject({ type: 'error', code: 'CHARGE_CONFLICT', chargeId: 'C-1' });
    const outcome = await rig.scan(phone.payTapped());
    expect(outcome).toMatchObject({ kind: 'accept', chargeId: 'C-1' });
    const debitId = (outcome as { debitId: string }).debitId;
    // Resent after payment: answers paid, never opens a second charge.
    expect(await client.request(charge('C-1', 12_50))).toMatchObject({ state: 'paid', debitId });
    expect(rig.book.active).toBeNull();
    expect(await rig.scan(rig.w.wallet(2).pay(rig.w.shopA.cards[0]!, 12_50).text)).toMatchObject({ kind: 'decline', code: 'NO_CHARGE' });
  });

  it('scan accepted, then cancel -> CHARGE_FINAL; the paid event reached the POS', async () => {
    const { rig, client } = await setup();
    await client.request(charge('C-1', 12_50));
    const outcome = await rig.scan(rig.w.wallet(1).pay(rig.w.shopA.cards[0]!, 12_50).text);
    const debitId = (outcome as { debitId: string }).debitId;
    expect(await client.next((m) => m['type'] === 'paid')).toEqual({ type: 'paid', chargeId: 'C-1', debitId, amount: 12_50, currency: 'EUR' });
    expect(await client.request({ type: 'cancel', chargeId: 'C-1' })).toMatchObject({ type: 'error', code: 'CHARGE_FINAL', state: 'paid' });
  });

  it('the writer queue orders a scan and a cancel that arrive together: whichever is first wins', async () => {
    const { rig } = await setup();
    const card = rig.w.shopA.cards[0]!;
    await rig.command({ type: 'charge', chargeId: 'C-1', amount: 12_50, currency: 'EUR' });
    const [scanFirst, cancelAfter] = await Promise.all([
      rig.scan(rig.w.wallet(1).pay(card, 12_50).text),
      rig.command({ type: 'cancel', chargeId: 'C-1' }),
    ]);
    expect(scanFirst).toMatchObject({ kind: 'accept' });
    expect(cancelAfter).toMatchObject({ code: 'CHARGE_FINAL' });

    await rig.command({ type: 'charge', chargeId: 'C-2', amount: 12_50, currency: 'EUR' });
    const [cancelFirst, scanAfter] = await Promise.all([
      rig.command({ type: 'cancel', chargeId: 'C-2' }),
      rig.scan(rig.w.wallet(2).pay(card, 12_50).text),
    ]);
    expect(cancelFirst).toMatchObject({ state: 'cancelled' });
    expect(scanAfter).toMatchObject({ kind: 'decline', code: 'NO_CHARGE' });
  });

  it('a declined scan leaves the charge pending so the customer can try again', async () => {
    const { rig, client } = await setup();
    await client.request(charge('C-1', 12_50));
    expect(await rig.scan(rig.w.wallet(1).pay(rig.w.shopA.cards[0]!, 11_00).text)).toMatchObject({ code: 'AMOUNT_MISMATCH' });
    expect(await client.request({ type: 'status', chargeId: 'C-1' })).toMatchObject({ state: 'pending' });
    expect(await rig.scan(rig.w.wallet(1).pay(rig.w.shopA.cards[0]!, 12_50).text)).toMatchObject({ kind: 'accept' });
  });
});
