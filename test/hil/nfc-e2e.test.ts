/**
 * The NFC flow end to end against the BUILT box (dist/scanner.mjs) as a real process: a register sets
 * the charge over the POS link (TCP), a simulated phone taps the 'sim' reader (a unix socket, see
 * drivers/nfc/socket-sim.ts), verifies the box's signed answer with the reference wallet, pays to the
 * session key, and the code arrives over the socat pty serial scanner. Session TTL is 2 s here.
 */
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { cardFromText, type IdentityCard } from '../../device/core/protocol/card.ts';
import { debitIdOf } from '../../device/core/protocol/debit.ts';
import type { Wallet } from '../../wallet/lib/wallet.ts';
import { BoxProcess, ensureBuilt, readJournal } from '../support/box-process.ts';
import { type HilLayout, writeHilConfig } from '../support/hil-config.ts';
import { flipLastAnswerByte, openPhoneWallet, rawPhone, strangerAuthorities, tapPhone } from '../support/phone-sim.ts';
import { type PtyPair, socatAvailable, startPtyPair } from '../support/pty.ts';
import { posClient } from '../unit/pos-harness.ts';

const HAVE_SOCAT = socatAvailable();
const SESSION_TTL_SEC = 2;

/** Writes bytes into the host end of the pty pair, as the scanner module would. */
function writeHost(path: string, data: string): void {
  const fd = openSync(path, 'r+');
  try {
    const buf = Buffer.from(data, 'latin1');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

describe.runIf(HAVE_SOCAT)('NFC tap -> wallet -> pty scan on the built box', () => {
  let layout: HilLayout;
  let pair: PtyPair;
  let box: BoxProcess;
  let pos: Awaited<ReturnType<typeof posClient>>;
  let wallet: Wallet;
  let card: IdentityCard;
  let nfcSocket: string;
  let hostPty: string;

  const debitId = (counter: number): string => toHex(debitIdOf(nobleProvider, wallet.publicKey, counter));
  const scan = (text: string): void => writeHost(hostPty, `${text}\r`);
  const charge = async (chargeId: string, amount: number): Promise<void> => {
    expect(await pos.request({ type: 'charge', chargeId, amount, currency: 'EUR' })).toMatchObject({ state: 'pending' });
  };

  beforeAll(async () => {
    ensureBuilt();
    // repeatWindowMs 0: the same code read again is decided again (not a repeat of the earlier beep).
    layout = writeHilConfig({ scanner: (dir) => ({ kind: 'serial', path: join(dir, 'scanner'), delimiter: '\r' }), repeatWindowMs: 0 });
    nfcSocket = join(layout.dir, 'nfc.sock');
    hostPty = join(layout.dir, 'host');
    const config = {
      ...layout.config,
      amount: { mode: 'pos' },
      pos: { transport: 'tcp', host: '127.0.0.1', port: 0 },
      nfc: { enabled: true, reader: 'sim', socket: nfcSocket, sessionTtlSec: SESSION_TTL_SEC },
    };
    writeFileSync(layout.configPath, `${JSON.stringify(config, null, 2)}\n`);
    pair = await startPtyPair(join(layout.dir, 'scanner'), hostPty);
    box = await BoxProcess.start(layout.configPath, { readyTimeoutMs: 45_000 });
    await box.waitForEvent('nfc.status', (l) => l['state'] === 'ready');
    pos = await posClient((await box.waitForEvent('pos.listening'))['port'] as number);
    wallet = openPhoneWallet(layout.walletPath);
    const parsed = cardFromText(readFileSync(layout.cardPath, 'utf8').trim());
    if (!parsed) throw new Error(`no identity card in ${layout.cardPath}`);
    card = parsed;
  }, 120_000);

  afterAll(async () => {
    pos?.close();
    await box?.stop();
    await pair?.stop();
    layout?.cleanup();
  });

  it('charge via POS -> tap -> phone verifies the box -> pays to the session key -> pty scan -> Accept', async () => {
    await charge('NFC-1', 250);
    const from = box.logs.length;
    const tap = await tapPhone(nfcSocket, { wallet });
    expect(tap.refusal).toBeUndefined();
    expect(tap.statusWords.at(-1)).toBe('9000');
    expect(tap.answer).toMatchObject({ chargeId: 'NFC-1', amount: 250, currency: 'EUR', ttlSeconds: SESSION_TTL_SEC });
    expect(tap.answer!.card.serial).toBe(card.serial);
    await box.waitForEvent('nfc.tap', undefined, 5000, from);

    const code = wallet.pay(tap.answer!.card, tap.answer!.amount, { nfc: tap.answer! });
    scan(code.text);
    const paid = await pos.next((m) => m['type'] === 'paid');
    expect(paid).toEqual({ type: 'paid', chargeId: 'NFC-1', debitId: debitId(code.counter), amount: 250, currency: 'EUR' });
    const accept = await box.waitForEvent('scan.accept', undefined, 5000, from);
    expect(accept).toMatchObject({ debitId: debitId(code.counter), chargeId: 'NFC-1', amount: 250 });
    await box.waitForConsole(/ACCEPTED/);
    const journal = readJournal(layout.journalPath);
    expect(journal.debits).toContainEqual(expect.objectContaining({ debitId: debitId(code.counter), amount: 250, counter: code.counter }));
    expect(journal.integrity).toBe('ok');

    // (2a) the same code in a new session (new charge, new tap) is declined; the new session still pays.
    await charge('NFC-2', 250);
    const tap2 = await tapPhone(nfcSocket, { wallet });
    expect(tap2.answer?.chargeId).toBe('NFC-2');
    expect(toHex(tap2.answer!.sessionPublicKey)).not.toBe(toHex(tap.answer!.sessionPublicKey));
    const fromReplay = box.logs.length;
    scan(code.text);
    const replayDecline = await pos.next((m) => m['type'] === 'declined');
    expect(replayDecline['code']).toBe('SESSION_EXPIRED');
    await box.waitForEvent('scan.decline', (l) => l['code'] === 'SESSION_EXPIRED', 5000, fromReplay);
    const code2 = wallet.pay(tap2.answer!.card, 250, { nfc: tap2.answer! });
    scan(code2.text);
    expect(await pos.next((m) => m['type'] === 'paid')).toMatchObject({ chargeId: 'NFC-2', debitId: debitId(code2.counter) });
  }, 30_000);

  it('a code made in time but scanned after the session TTL is declined SESSION_EXPIRED', async () => {
    await charge('NFC-3', 300);
    const tap = await tapPhone(nfcSocket, { wallet });
    expect(tap.answer?.chargeId).toBe('NFC-3');
    const late = wallet.pay(tap.answer!.card, 300, { nfc: tap.answer! });
    // Real time on purpose: the box is a separate process with its own clock.
    await new Promise((r) => setTimeout(r, SESSION_TTL_SEC * 1000 + 600));
    const from = box.logs.length;
    scan(late.text);
    expect(await pos.next((m) => m['type'] === 'declined')).toMatchObject({ code: 'SESSION_EXPIRED' });
    await box.waitForEvent('scan.decline', (l) => l['code'] === 'SESSION_EXPIRED', 5000, from);
    expect(readJournal(layout.journalPath).debits.some((d) => d.debitId === debitId(late.counter))).toBe(false);
    expect(await pos.request({ type: 'status', chargeId: 'NFC-3' })).toMatchObject({ state: 'pending' });
  }, 20_000);

  it('a forged answer: a phone trusting another authority, and a flipped signature byte in flight, refuse to pay', async () => {
    // NFC-3 is still pending: every tap below is offered it.
    let from = box.logs.length;
    const stranger = await tapPhone(nfcSocket, { wallet: openPhoneWallet(layout.walletPath, { authorities: strangerAuthorities() }) });
    expect(stranger.answer).toBeUndefined();
    expect(stranger.refusal).toBe('CARD_UNTRUSTED');
    expect(stranger.statusWords.at(-1)).toBe('6982');
    await box.waitForEvent('nfc.fault', (l) => l['code'] === 'NFC_PHONE_REFUSED', 5000, from);

    from = box.logs.length;
    const mitm = await tapPhone(nfcSocket, { wallet, tamperCommand: (apdu) => flipLastAnswerByte(apdu) });
    expect(mitm.answer).toBeUndefined();
    expect(mitm.refusal).toBe('NFC_ANSWER_FORGED');
    expect(mitm.statusWords.at(-1)).toBe('6982');
    await box.waitForEvent('nfc.fault', (l) => l['code'] === 'NFC_PHONE_REFUSED', 5000, from);
    expect(box.running).toBe(true);
  }, 20_000);

  it('phone pulled away after SELECT: coded fault, then a QR payment is still accepted', async () => {
    const from = box.logs.length;
    const tap = await tapPhone(nfcSocket, { wallet, pullAwayAfter: 1 });
    expect(tap.pulledAway).toBe(true);
    expect(tap.statusWords).toEqual(['9000']); // answered SELECT, then left the field
    expect(tap.answer).toBeUndefined();
    const fault = await box.waitForEvent('nfc.fault', undefined, 5000, from);
    expect(fault).toMatchObject({ code: 'NFC_REMOVED', step: 'put-answer' });

    const code = wallet.pay(card, 300); // static flow (printed card), for the pending NFC-3
    scan(code.text);
    expect(await pos.next((m) => m['type'] === 'paid')).toEqual({ type: 'paid', chargeId: 'NFC-3', debitId: debitId(code.counter), amount: 300, currency: 'EUR' });
  }, 20_000);

  it('malformed frames from a phone are coded faults; the next tap works', async () => {
    await charge('NFC-5', 120);
    let from = box.logs.length;
    // Declares a 65535-byte response: above the 1024-byte frame bound.
    const oversized = await rawPhone(nfcSocket, Uint8Array.of(0xff, 0xff, 0x90, 0x00));
    expect(oversized.closedByBox).toBe(true);
    await box.waitForEvent('nfc.sim.fault', (l) => l['code'] === 'NFC_SIM_FRAME_TOO_LONG', 5000, from);
    await box.waitForEvent('nfc.fault', (l) => l['step'] === 'select', 5000, from);

    from = box.logs.length;
    // A well-framed but garbage SELECT response (1 byte, no status word).
    const garbage = await rawPhone(nfcSocket, Uint8Array.of(0x00, 0x01, 0x42));
    expect(garbage.closedByBox).toBe(true);
    await box.waitForEvent('nfc.fault', (l) => l['code'] === 'NFC_SHORT_RESPONSE', 5000, from);

    const tap = await tapPhone(nfcSocket, { wallet });
    expect(tap.answer).toMatchObject({ chargeId: 'NFC-5', amount: 120 });
    const code = wallet.pay(tap.answer!.card, 120, { nfc: tap.answer! });
    scan(code.text);
    expect(await pos.next((m) => m['type'] === 'paid')).toMatchObject({ chargeId: 'NFC-5', debitId: debitId(code.counter) });
    expect(box.running).toBe(true);
  }, 20_000);
});
