/**
 * Self-test checks with fakes, and the standalone self-test on an embedded-default-like config
 * (tcp-sim scanner, console indicator, demo provisioning) in a temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeIndicator } from '../../drivers/indicator/fake.ts';
import { ALL_PATTERNS } from '../../drivers/indicator/types.ts';
import { silentLog } from '../../drivers/common/log.ts';
import { defaultSelftestEnv } from '../../device/app/commands/selftest.ts';
import { checkBackend, checkIndicator, checkModem, checkNfc, checkPower, checkStorage, parseThrottled } from '../../device/app/commands/selftest-checks.ts';
import { renderSelftest, summarise } from '../../device/app/commands/selftest-report.ts';
import { standaloneSelftest } from '../../device/app/commands/selftest-standalone.ts';
import { parseConfig } from '../../device/app/config.ts';
import { ensureDemo } from '../../device/app/demo.ts';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { FileKeyStore } from '../../device/keys/file-keystore.ts';

const noSleep = async () => {};

describe('self-test checks', () => {
  it('cycles every indicator pattern and ends on ready; console counts as simulated', async () => {
    const ind = new FakeIndicator();
    const slept: number[] = [];
    const r = await checkIndicator(ind, 'kernel-led', 50, async (ms) => {
      slept.push(ms);
    });
    expect(ind.shown).toEqual([...ALL_PATTERNS, 'ready']);
    expect(slept).toHaveLength(ALL_PATTERNS.length);
    expect(r).toMatchObject({ ok: true, fatal: true });
    expect(r.simulated).toBeUndefined();
    expect((await checkIndicator(new FakeIndicator(), 'console', 0, noSleep)).simulated).toBe(true);
  });

  it('reads Pi throttling flags: under-voltage now is fatal, past events warn, absent means not a Pi', () => {
    expect(parseThrottled('throttled=0x50005')).toBe(0x50005);
    expect(checkPower('throttled=0x0')).toMatchObject({ ok: true });
    expect(checkPower('throttled=0x50005')).toMatchObject({ ok: false, fatal: true, detail: expect.stringContaining('UNDER-VOLTAGE') });
    expect(checkPower('throttled=0x50000')).toMatchObject({ ok: false, fatal: false, detail: expect.stringContaining('underVoltageOccurred') });
    expect(checkPower(undefined)).toMatchObject({ ok: true, skipped: true, detail: expect.stringContaining('not a Pi') });
    expect(checkPower('garbage')).toMatchObject({ ok: false, fatal: false });
  });

  it('asks the modem for AT and signal; no port or no answer is only a warning', async () => {
    const port = (answers: Record<string, { ok: boolean; lines: string[] }>) => ({ command: async (c: string) => answers[c] ?? { ok: false, lines: [] } });
    expect(await checkModem('/dev/lte-at', port({ AT: { ok: true, lines: [] }, 'AT+CSQ': { ok: true, lines: ['+CSQ: 20,99'] } }))).toMatchObject({
      ok: true,
      fatal: false,
      detail: expect.stringContaining('-73 dBm'),
    });
    expect(await checkModem('/dev/x', port({ AT: { ok: true, lines: [] }, 'AT+CSQ': { ok: true, lines: ['+CSQ: 99,99'] } }))).toMatchObject({ ok: false, fatal: false });
    expect(await checkModem('/dev/x', port({}))).toMatchObject({ ok: false, fatal: false, detail: expect.stringContaining('does not answer AT') });
    expect(await checkModem('/nonexistent/lte-at', undefined)).toMatchObject({ ok: true, skipped: true, fatal: false });
  });

  it('NFC: pcscd missing or no reader warns, never fails the box', async () => {
    const down = async () => ({ reachable: false as const, reason: 'ENOENT' });
    const up = async () => ({ reachable: true as const });
    expect(await checkNfc('/run/pcscd/pcscd.comm', down)).toMatchObject({ ok: false, fatal: false });
    expect(await checkNfc('/s', up, async () => [])).toMatchObject({ ok: false, fatal: false, detail: expect.stringContaining('no reader') });
    expect(await checkNfc('/s', up, async () => ['ACS ACR1252 1S CL Reader'])).toMatchObject({ ok: true, detail: expect.stringContaining('ACR1252') });
  });

  it('back end: unreachable or not provisioned is a warning', async () => {
    expect(await checkBackend(undefined, async () => 200)).toMatchObject({ ok: false, fatal: false, skipped: true });
    expect(await checkBackend('https://acq.example', async () => 204)).toMatchObject({ ok: true });
    const refused = Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(
      await checkBackend('https://acq.example', async () => {
        throw refused;
      }),
    ).toMatchObject({ ok: false, fatal: false, detail: expect.stringContaining('ECONNREFUSED') });
  });

  it('storage: a missing state dir and a corrupt journal are fatal', () => {
    expect(checkStorage('/nonexistent/qrpay', () => undefined, 1)).toEqual([expect.objectContaining({ name: 'journal.writable', ok: false, fatal: true })]);
    const d = mkdtempSync(join(tmpdir(), 'qrpay-st-'));
    try {
      const r = checkStorage(d, () => '*** in database main *** Page 3 is never used', 1);
      expect(r.map((c) => [c.name, c.ok])).toEqual([
        ['journal.writable', true],
        ['journal.integrity', false],
        ['disk.free', true],
      ]);
      expect(checkStorage(d, () => 'ok', Number.MAX_SAFE_INTEGER).find((c) => c.name === 'disk.free')).toMatchObject({ ok: false, fatal: true });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('fit means every fatal check passed; warnings do not matter', () => {
    const warn = { name: 'backend', ok: false, fatal: false, detail: 'down' };
    const pass = { name: 'keys', ok: true, fatal: true, detail: 'ok' };
    expect(summarise([pass, warn], 'standalone', 0).fit).toBe(true);
    const r = summarise([pass, warn, { name: 'scanner', ok: false, fatal: true, detail: 'no answer' }], 'service', 0);
    expect(r.fit).toBe(false);
    expect(renderSelftest(r)).toMatch(/NOT FIT.*scanner failed/);
  });
});

describe('standalone self-test on the embedded default shape', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qrpay-selftest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = parseConfig(
    {
      stateDir: join(dir, 'state'),
      demo: { dir: join(dir, 'demo') },
      currency: 'EUR',
      timezone: 'Europe/Berlin',
      amount: { mode: 'fixed', price: '12.50' },
      scanner: { kind: 'tcp-sim', port: 7410 },
      indicator: { kind: 'console' },
      allowVolatileState: true,
    },
    'test',
  );
  const env = defaultSelftestEnv({
    sleep: noSleep,
    patternMs: 0,
    probePcscd: async () => ({ reachable: false, reason: 'ENOENT' }),
    readThrottled: async () => undefined,
    modemPath: join(dir, 'no-modem'),
  });

  it('is unfit before provisioning (keys check names the command) and reports the simulated hardware', async () => {
    const r = await standaloneSelftest(cfg, env, { log: silentLog });
    expect(r.mode).toBe('standalone');
    expect(r.simulated).toEqual(['indicator', 'scanner']);
    expect(r.fit).toBe(false);
    expect(r.checks.find((c) => c.name === 'keys')).toMatchObject({ ok: false, fatal: true, detail: expect.stringContaining('NOT_PROVISIONED') });
    expect(r.checks.find((c) => c.name === 'journal.writable')).toMatchObject({ ok: false });
  });

  it('is fit once the demo merchant is provisioned, with NFC, modem, back end and power only warnings', async () => {
    const store = new FileKeyStore({ stateDir: cfg.stateDir });
    ensureDemo(nobleProvider, store, { dir: cfg.demo!.dir, merchantId: 'DEMO-CAFE', displayName: 'Demo Café', currency: 'EUR' }, Math.floor(Date.now() / 1000), silentLog);
    const r = await standaloneSelftest(cfg, env, { log: silentLog });
    expect(r.fit, renderSelftest(r)).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual(['indicator', 'scanner', 'nfc', 'modem', 'journal.writable', 'journal.integrity', 'disk.free', 'clock', 'keys', 'backend', 'power']);
    expect(r.checks.find((c) => c.name === 'keys')).toMatchObject({ ok: true, detail: expect.stringMatching(/card \d+ for DEMO-CAFE valid, 36\d days left/) });
    expect(r.checks.filter((c) => !c.ok).every((c) => !c.fatal)).toBe(true);
  });
});
