/**
 * The newcomer's NFC walkthrough on the embedded default, without hardware: the BUILT box
 * (dist/scanner.mjs) runs config/default.json (copied, with its paths, ports and the sim NFC socket
 * moved into a temp dir), and the BUILT wallet CLI (dist/wallet.mjs) runs
 * `tap --pay 12.50 --send`: it taps the box's simulated NFC reader, verifies the box's signed answer,
 * pays the offered fixed-price charge to the tap's session key and sends the code to the simulated
 * scanner. The box accepts it with flow 'nfc'.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxProcess, ensureBuilt, readJournal, repoRoot, tcpSimPort } from '../support/box-process.ts';

const walletBundle = join(repoRoot, 'dist', 'wallet.mjs');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built wallet CLI; never rejects (a non-zero exit is a result). */
function wallet(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [walletBundle, ...args], { cwd: repoRoot, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('embedded default: pay by NFC tap (simulated reader) with the wallet CLI', () => {
  let dir: string;
  let box: BoxProcess;
  let nfcSocket: string;
  let walletPath: string;
  let journalPath: string;
  let scannerTarget: string;

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'qrpay-nfc-demo-'));
    type Section = Record<string, unknown>;
    const defaults = JSON.parse(readFileSync(join(repoRoot, 'config', 'default.json'), 'utf8')) as Section & { demo: Section & { backend: Section }; scanner: Section; nfc: Section };
    // The embedded default must ship the sim NFC reader; only paths and ports move here.
    expect(defaults.nfc).toMatchObject({ enabled: true, reader: 'sim' });
    nfcSocket = join(dir, 'nfc.sock');
    walletPath = join(dir, 'demo', 'wallet.json');
    journalPath = join(dir, 'box', 'journal.db');
    const config = {
      ...defaults,
      stateDir: join(dir, 'box'),
      demo: { ...defaults.demo, dir: join(dir, 'demo'), backend: { ...defaults.demo.backend, port: 0, intervalSec: 2 } },
      scanner: { ...defaults.scanner, port: 0 },
      nfc: { ...defaults.nfc, socket: nfcSocket },
      control: { socket: join(dir, 'control.sock') },
    };
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
    box = await BoxProcess.start(configPath, { readyTimeoutMs: 45_000 });
    await box.waitForEvent('nfc.status', (l) => l['state'] === 'ready');
    scannerTarget = `127.0.0.1:${await tcpSimPort(box)}`;
  }, 120_000);

  afterAll(async () => {
    await box?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('tap without --pay prints the verified offer: the demo merchant, charge FIXED, 12.50 EUR', async () => {
    const from = box.logs.length;
    const r = await wallet(['tap', '--socket', nfcSocket, '--wallet', walletPath]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ merchantId: 'DEMO-CAFE', chargeId: 'FIXED', amount: '12.50 EUR' });
    expect(r.stderr).toMatch(/box signature and card verified/);
    await box.waitForEvent('nfc.tap', undefined, 5000, from);
    expect(box.events('scan.accept')).toHaveLength(0);
  }, 30_000);

  it('tap --pay with another amount than the box offers is refused by the wallet; nothing is sent', async () => {
    const from = box.logs.length;
    const r = await wallet(['tap', '--socket', nfcSocket, '--wallet', walletPath, '--pay', '9.99', '--send', '--to', scannerTarget]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the box asks 12\.50 EUR \(charge FIXED\) but you approved 9\.99 EUR; not paying/);
    await box.waitForEvent('nfc.tap', undefined, 5000, from);
    expect(box.logs.slice(from).some((l) => l.event === 'scan.accept' || l.event === 'scan.decline')).toBe(false);
  }, 30_000);

  it('tap --pay 12.50 --send: the box accepts the code with flow nfc and journals the debit', async () => {
    const from = box.logs.length;
    const r = await wallet(['tap', '--socket', nfcSocket, '--wallet', walletPath, '--pay', '12.50', '--send', '--to', scannerTarget]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/in the tap's session \(charge FIXED\)/);
    expect(r.stderr).toMatch(/sent to the simulated scanner/);
    const accept = await box.waitForEvent('scan.accept', undefined, 10_000, from);
    // 'FIXED' is only the tap's wire charge id for a fixed price; the box logs no POS charge (null) for it.
    expect(accept).toMatchObject({ flow: 'nfc', amount: 1250, currency: 'EUR' });
    await box.waitForConsole(/ACCEPTED/);
    const journal = readJournal(journalPath);
    expect(journal.debits).toContainEqual(expect.objectContaining({ debitId: accept['debitId'], amount: 1250 }));
    expect(journal.integrity).toBe('ok');
    // The local back end settles it: the debit record carries the charge id the wallet signed.
    await box.waitForConsole(/settled with the local back end/, 1, 20_000);
    expect(box.logs.slice(from).some((l) => l.event === 'sync.rejected')).toBe(false);
  }, 40_000);

  it('without a box at the socket the CLI says where it looked and what to start', async () => {
    const r = await wallet(['tap', '--socket', join(dir, 'nobody.sock'), '--wallet', walletPath]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the box's simulated NFC reader at .*nobody\.sock \(ENOENT\); is npm start running/);
  }, 30_000);
});
