/**
 * The built box end to end over a real pseudo-terminal: socat links <dir>/scanner (the box's
 * serial port) to <dir>/host (where this test plays the scanner module and writes CR-terminated
 * codes). Checks the journal rows and the indicator signals, hostile serial input, the repeat
 * window, and reconnection after the "USB cable" (socat) goes away and comes back.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxProcess, demoPayer, ensureBuilt, readJournal } from '../support/box-process.ts';
import { type HilLayout, writeHilConfig } from '../support/hil-config.ts';
import { type PtyPair, socatAvailable, startPtyPair } from '../support/pty.ts';

const HAVE_SOCAT = socatAvailable();
const PRICE_MINOR = 100;

/** Writes bytes into the host end of the pty, the way a scanner module's UART would. */
function writeHost(path: string, data: string | Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

describe.runIf(HAVE_SOCAT)('box over a socat pty (serial scanner, CR framing)', () => {
  let layout: HilLayout;
  let pair: PtyPair;
  let box: BoxProcess;
  let scannerLink: string;
  let hostLink: string;
  let payer: ReturnType<typeof demoPayer>;

  beforeAll(async () => {
    ensureBuilt();
    layout = writeHilConfig({ scanner: (dir) => ({ kind: 'serial', path: join(dir, 'scanner'), delimiter: '\r' }), logLevel: 'debug' });
    scannerLink = join(layout.dir, 'scanner');
    hostLink = join(layout.dir, 'host');
    pair = await startPtyPair(scannerLink, hostLink);
    box = await BoxProcess.start(layout.configPath, { readyTimeoutMs: 45_000 });
    payer = demoPayer(layout.walletPath, layout.cardPath);
  }, 90_000);

  afterAll(async () => {
    await box?.stop();
    await pair?.stop();
    layout?.cleanup();
  });

  /** Sends one code and waits for its verdict line (scan.accept, scan.decline or scan.repeat). */
  async function scan(text: string): Promise<{ event: string; line: Record<string, unknown> }> {
    const from = box.logs.length;
    writeHost(hostLink, `${text}\r`);
    const line = await box.waitFor((l) => l.event === 'scan.accept' || l.event === 'scan.decline' || l.event === 'scan.repeat', 20_000, from, 'scan verdict');
    return { event: line.event!, line };
  }

  it('accepts a payment: one journal row, the accepted pattern after it', async () => {
    expect(box.events('box.ready')[0]).toMatchObject({ scanner: 'serial', indicator: 'console' });
    expect(box.events('scanner.status').at(-1)).toMatchObject({ state: 'connected' });
    const consoleFrom = box.consoleLines.length;
    const { text, counter } = payer.pay(PRICE_MINOR);
    const r = await scan(text);
    expect(r.event, box.tail()).toBe('scan.accept');
    expect(r.line).toMatchObject({ amount: PRICE_MINOR, currency: 'EUR', flow: 'static' });
    await box.waitForConsole(/ACCEPTED/, 1, 10_000, consoleFrom);

    const j = readJournal(layout.journalPath);
    expect(j.debits).toHaveLength(1);
    expect(j.debits[0]).toMatchObject({ debitId: r.line['debitId'], walletKey: payer.walletKey, counter, amount: PRICE_MINOR, state: 'pending' });
  });

  it('survives garbage lines and a 64 KiB flood without delimiter; the next good code is accepted', async () => {
    const from = box.logs.length;
    // Printable junk reaches the decoder and is declined MALFORMED; control bytes are dropped by the reader.
    writeHost(hostLink, 'HELLO WORLD\rQP:\rQP:!!!!not-base45!!!!\r\r');
    writeHost(hostLink, Buffer.from([0x00, 0xff, 0xfe, 0x1b, 0x5b, 0x41, 0x0d]));
    await box.waitFor((l) => l.event === 'scan.decline' && l['code'] === 'MALFORMED', 15_000, from, 'MALFORMED decline');
    // 64 KiB of bytes and no CR: the line guard drops it once it passes maxLineBytes, memory stays bounded.
    writeHost(hostLink, Buffer.alloc(64 * 1024, 0x41));
    // The module's next terminator ends the overlong line; then a real scan follows.
    writeHost(hostLink, '\r');
    await box.waitFor((l) => l.msg === 'scanner: dropped line' && l['reason'] === 'overflow', 15_000, from, 'overflow drop');

    const { text, counter } = payer.pay(PRICE_MINOR);
    const r = await scan(text);
    expect(r.event, box.tail()).toBe('scan.accept');
    expect(box.running).toBe(true);
    const j = readJournal(layout.journalPath);
    expect(j.debits.map((d) => d.counter)).toContain(counter);
    expect(j.debits).toHaveLength(2);
    expect(j.declines.some((d) => d.code === 'MALFORMED')).toBe(true);
    // Nothing of the flood turned into a verdict: every decline since `from` is MALFORMED from the junk lines.
    const declines = box.logs.slice(from).filter((l) => l.event === 'scan.decline');
    expect(declines.every((l) => l['code'] === 'MALFORMED')).toBe(true);
  });

  it('the same code twice within the repeat window repeats the outcome and adds no row', async () => {
    const { text } = payer.pay(PRICE_MINOR);
    const consoleFrom = box.consoleLines.length;
    const first = await scan(text);
    expect(first.event).toBe('scan.accept');
    const second = await scan(text);
    expect(second.event).toBe('scan.repeat');
    expect(second.line).toMatchObject({ of: 'accept' });
    // The merchant sees (and hears) "accepted" twice: once per read.
    await box.waitForConsole(/ACCEPTED/, 2, 10_000, consoleFrom);
    const j = readJournal(layout.journalPath);
    expect(j.debits).toHaveLength(3);
    expect(j.debits.filter((d) => d.debitId === first.line['debitId'])).toHaveLength(1);
    expect(j.duplicates).toEqual([]);
  });

  it('reconnects when socat dies and comes back on the same link, then accepts a new code', async () => {
    const from = box.logs.length;
    await pair.stop(); // unplug: the pty and its link vanish
    await box.waitForEvent('scanner.status', (l) => l['state'] === 'reconnecting', 20_000, from);
    pair = await startPtyPair(scannerLink, hostLink); // replug: same link, new /dev/pts/N
    const back = await box.waitForEvent('scanner.status', (l) => l['state'] === 'connected', 30_000, from);
    expect(String(back['detail'])).toMatch(/^\/dev\/pts\//);
    expect(box.running).toBe(true);

    const { text, counter } = payer.pay(PRICE_MINOR);
    const r = await scan(text);
    expect(r.event, box.tail()).toBe('scan.accept');
    const j = readJournal(layout.journalPath);
    expect(j.debits).toHaveLength(4);
    expect(j.debits.at(-1)).toMatchObject({ counter, debitId: r.line['debitId'] });
    expect(j.integrity).toBe('ok');
  });
});

if (!HAVE_SOCAT) {
  describe('box over a socat pty', () => {
    it.skip('needs `socat` on PATH (apt install socat)', () => {});
  });
}
