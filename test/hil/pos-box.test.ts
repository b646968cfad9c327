/**
 * The POS link on the built box (dist/scanner.mjs) as a real process: a register on a real TCP
 * socket sets a charge, the code arrives over the socat pty serial scanner, the register gets
 * `paid`; after a SIGKILL and a restart `status` still says paid and the debit can be voided.
 * NFC is configured (pcsc): with or without pcscd the box keeps taking QR payments.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxProcess, demoPayer, ensureBuilt } from '../support/box-process.ts';
import { type HilLayout, writeHilConfig } from '../support/hil-config.ts';
import { type PtyPair, socatAvailable, startPtyPair } from '../support/pty.ts';
import { posClient } from '../unit/pos-harness.ts';

const HAVE_SOCAT = socatAvailable();

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

describe.runIf(HAVE_SOCAT)('POS link on the built box over the pty scanner path', () => {
  let layout: HilLayout;
  let pair: PtyPair;
  let box: BoxProcess | undefined;
  const clients: { close(): void }[] = [];

  async function startBox() {
    box = await BoxProcess.start(layout.configPath, { readyTimeoutMs: 45_000 });
    const line = await box.waitForEvent('pos.listening');
    const c = await posClient(line['port'] as number);
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    ensureBuilt();
    layout = writeHilConfig({ scanner: (dir) => ({ kind: 'serial', path: join(dir, 'scanner'), delimiter: '\r' }), logLevel: 'debug' });
    const config = { ...layout.config, amount: { mode: 'pos' }, pos: { transport: 'tcp', host: '127.0.0.1', port: 0 }, nfc: { enabled: true, reader: 'pcsc' } };
    writeFileSync(layout.configPath, `${JSON.stringify(config, null, 2)}\n`);
    pair = await startPtyPair(join(layout.dir, 'scanner'), join(layout.dir, 'host'));
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await box?.stop();
    await pair?.stop();
    layout?.cleanup();
  });

  it('charge -> scan over the pty -> paid; SIGKILL; restart -> status paid; void', async () => {
    const pos = await startBox();
    // NFC configured: the box reports its reader state (or that NFC is unavailable) and still runs.
    await box!.waitFor((l) => l.event === 'nfc.status' || l.event === 'nfc.disabled' || l.msg === 'nfc status', 20_000, 0, 'nfc state');
    const payer = demoPayer(layout.walletPath, layout.cardPath);

    expect(await pos.request({ type: 'charge', chargeId: 'HIL-1', amount: 250, currency: 'EUR', id: 1 })).toMatchObject({ state: 'pending', re: 1 });
    const wrong = payer.pay(100);
    writeHost(join(layout.dir, 'host'), `${wrong.text}\r`);
    expect(await pos.next((m) => m['type'] === 'declined')).toEqual({ type: 'declined', chargeId: 'HIL-1', code: 'AMOUNT_MISMATCH' });

    const code = payer.pay(250);
    writeHost(join(layout.dir, 'host'), `${code.text}\r`);
    const paid = await pos.next((m) => m['type'] === 'paid');
    expect(paid).toEqual({ type: 'paid', chargeId: 'HIL-1', debitId: payer.debitId(code.counter), amount: 250, currency: 'EUR' });

    await box!.kill('SIGKILL');
    const again = await startBox();
    expect(await again.request({ type: 'status', chargeId: 'HIL-1' })).toMatchObject({ state: 'paid', debitId: paid['debitId'] });
    expect(await again.request({ type: 'charge', chargeId: 'HIL-1', amount: 250, currency: 'EUR' })).toMatchObject({ state: 'paid' });
    const voided = await again.request({ type: 'void', debitId: paid['debitId'] });
    expect(voided).toMatchObject({ type: 'voided', debitId: paid['debitId'], chargeId: 'HIL-1' });
    expect((voided['record'] as string).length).toBe(174);
    again.sendRaw('garbage\n');
    expect(await again.next()).toMatchObject({ type: 'error', code: 'MALFORMED' });
    expect(box!.running).toBe(true);
  }, 120_000);
});
