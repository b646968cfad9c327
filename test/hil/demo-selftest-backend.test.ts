/**
 * The embedded default (`npm start`) syncs with its in-process reference back end, so the running
 * box's self-test (`scanner selftest` over the control socket) probes that back end instead of
 * reporting "no back end provisioned".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { type Box, startBox } from '../../device/app/box.ts';
import { parseConfig } from '../../device/app/config.ts';
import { controlRequest } from '../../device/app/control/client.ts';

let dir = '';
let box: Box | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qrpay-demo-selftest-'));
});
afterEach(async () => {
  await box?.stop();
  box = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('selftest of the running embedded-default box', () => {
  it('checks the in-process demo back end it syncs with', async () => {
    const cfg = parseConfig(
      {
        stateDir: join(dir, 'box'),
        demo: { dir: join(dir, 'demo'), backend: { host: '127.0.0.1', port: 0, intervalSec: 3600 } },
        currency: 'EUR',
        timezone: 'UTC',
        amount: { mode: 'fixed', price: '12.50' },
        scanner: { kind: 'tcp-sim', port: 0 },
        indicator: { kind: 'console' },
        control: { socket: join(dir, 'control.sock') },
        allowVolatileState: true,
      },
      'test',
    );
    box = await startBox(cfg, { log: silentLog });
    expect(box.sync).toBeDefined();
    const report = (await controlRequest(join(dir, 'control.sock'), { cmd: 'selftest' }, { timeoutMs: 30_000 })) as {
      checks: { name: string; ok: boolean; skipped?: boolean; detail: string }[];
    };
    const backend = report.checks.find((c) => c.name === 'backend');
    expect(backend?.skipped).toBeUndefined();
    expect(backend?.ok).toBe(true);
    expect(backend?.detail).toMatch(/^http:\/\/127\.0\.0\.1:\d+ answered HTTP \d+$/);
  }, 40_000);
});
