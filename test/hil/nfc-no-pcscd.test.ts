/**
 * The pcscd hazard on the BUILT box (dist/scanner.mjs) as a real process: nfc-pcsc's `new NFC()` would
 * block the main thread forever without pcscd, so with NFC configured ('pcsc') the box must still start
 * and take QR payments over the socat pty promptly.
 *
 * (a) pcscd absent: PCSCLITE_CSOCK_NAME points at a socket that does not exist -> 'no-pcscd'.
 * (b) pcscd running with no reader attached (CI starts it and sets NFC_PCSCD=1) -> 'no-reader'.
 *     Locally, without touching the host's pcscd:
 *       unshare -m sh -c 'mount -t tmpfs tmpfs /run/pcscd; pcscd -f & sleep 1;
 *         NFC_PCSCD=1 npx vitest run test/hil/nfc-no-pcscd.test.ts; kill $!'
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BoxProcess, demoPayer, ensureBuilt } from '../support/box-process.ts';
import { type HilLayout, writeHilConfig } from '../support/hil-config.ts';
import { type PtyPair, socatAvailable, startPtyPair } from '../support/pty.ts';

const HAVE_SOCAT = socatAvailable();
/** A QR payment through a healthy event loop takes milliseconds; a blocked loop never finishes. */
const PROMPT_MS = 3000;

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

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts the built box with NFC 'pcsc' and a pty scanner; returns it once ready. */
async function startPcscBox(env: NodeJS.ProcessEnv): Promise<{ box: BoxProcess; layout: HilLayout; hostPty: string }> {
  ensureBuilt();
  const layout = writeHilConfig({ scanner: (dir) => ({ kind: 'serial', path: join(dir, 'scanner'), delimiter: '\r' }) });
  cleanups.push(() => layout.cleanup());
  writeFileSync(layout.configPath, `${JSON.stringify({ ...layout.config, nfc: { enabled: true, reader: 'pcsc' } }, null, 2)}\n`);
  const hostPty = join(layout.dir, 'host');
  const pair: PtyPair = await startPtyPair(join(layout.dir, 'scanner'), hostPty);
  cleanups.push(() => pair.stop());
  const t0 = performance.now();
  const box = await BoxProcess.start(layout.configPath, { env, readyTimeoutMs: 30_000 });
  cleanups.push(async () => {
    await box.stop();
  });
  // Starting must not wait on pcscd at all (the probe answers within its timeout).
  expect(performance.now() - t0).toBeLessThan(20_000);
  return { box, layout, hostPty };
}

/** Pays 1.00 twice over the pty and checks each accept lands within PROMPT_MS. */
async function payTwicePromptly(box: BoxProcess, layout: HilLayout, hostPty: string): Promise<void> {
  const payer = demoPayer(layout.walletPath, layout.cardPath);
  for (let i = 0; i < 2; i++) {
    const from = box.logs.length;
    const code = payer.pay(100);
    const t0 = performance.now();
    writeHost(hostPty, `${code.text}\r`);
    const accept = await box.waitForEvent('scan.accept', undefined, PROMPT_MS, from);
    expect(performance.now() - t0).toBeLessThan(PROMPT_MS);
    expect(accept['debitId']).toBe(payer.debitId(code.counter));
  }
  await box.waitForConsole(/ACCEPTED/, 2);
  expect(box.running).toBe(true);
}

describe.runIf(HAVE_SOCAT)('built box with NFC pcsc and no usable pcscd', () => {
  it("(a) pcscd absent: 'no-pcscd' is logged and QR payments over the pty are accepted promptly", async () => {
    const missing = join('/tmp', `qrpay-no-pcscd-${process.pid}-${Date.now()}`, 'pcscd.comm');
    const { box, layout, hostPty } = await startPcscBox({ PCSCLITE_CSOCK_NAME: missing });
    const status = await box.waitForEvent('nfc.status', undefined, 5000);
    expect(status).toMatchObject({ state: 'no-pcscd', code: 'NFC_NO_PCSCD' });
    expect(box.events('nfc.disabled')).toEqual([]);
    await payTwicePromptly(box, layout, hostPty);
    // Still no-pcscd, never anything else: nfc-pcsc was never constructed.
    expect(box.events('nfc.status').every((l) => l['state'] === 'no-pcscd')).toBe(true);
  }, 40_000);

  it.skipIf(process.env['NFC_PCSCD'] !== '1')(
    "(b) pcscd running, no reader: 'no-reader' is logged and QR payments are accepted [needs pcscd: NFC_PCSCD=1]",
    async () => {
      const { box, layout, hostPty } = await startPcscBox({});
      const status = await box.waitForEvent('nfc.status', (l) => l['state'] !== 'no-pcscd', 10_000);
      expect(status).toMatchObject({ state: 'no-reader', readers: [] });
      expect(box.events('nfc.status').some((l) => l['state'] === 'no-pcscd')).toBe(false);
      await payTwicePromptly(box, layout, hostPty);
    },
    40_000,
  );
});
