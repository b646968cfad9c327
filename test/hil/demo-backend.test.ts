/**
 * The embedded default with the local back end (device/app/demo-backend.ts), in-process:
 * startBox() on a demo config with `demo.backend` starts the reference back end on 127.0.0.1,
 * enrols the box online, issues the demo wallet from an account with a balance, and syncs to it.
 * A payment made with the demo wallet file is accepted and then settled by the back end.
 * Also: an older file-authority demo state is moved aside (not deleted), and a taken port means
 * an offline box with the self-refreshed revocation list.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { cardFromText } from '../../device/core/protocol/card.ts';
import { type Box, startBox } from '../../device/app/box.ts';
import { parseConfig } from '../../device/app/config.ts';
import { DEMO_ACCOUNT, DEMO_BALANCE } from '../../device/app/demo-backend.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { Backend } from '../../backend/lib/backend.ts';
import { openWallet } from '../../wallet/cli/wallet-file.ts';

let dir: string;
const boxes: Box[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qrpay-demo-'));
});
afterEach(async () => {
  for (const b of boxes.splice(0)) await b.stop();
  rmSync(dir, { recursive: true, force: true });
});

function config(backend: { port: number } | null) {
  return parseConfig(
    {
      stateDir: join(dir, 'box'),
      demo: { dir: join(dir, 'demo'), ...(backend ? { backend: { host: '127.0.0.1', port: backend.port, intervalSec: 3600 } } : {}) },
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
}

async function start(backend: { port: number } | null): Promise<Box> {
  const box = await startBox(config(backend), { log: silentLog });
  boxes.push(box);
  return box;
}

/** The newcomer's `npm run wallet -- pay 12.50`: the demo wallet file and the demo card. */
function payCode(): string {
  const wallet = openWallet(createNodeProvider(), join(dir, 'demo', 'wallet.json'));
  const card = cardFromText(readFileSync(join(dir, 'demo', 'merchant-card.txt'), 'utf8').trim())!;
  return wallet.pay(card, 12_50).text;
}

function withBackendDb<T>(fn: (b: Backend) => T): T {
  const b = Backend.open({ dbPath: join(dir, 'demo', 'backend', 'backend.db'), provider: createNodeProvider() });
  try {
    return fn(b);
  } finally {
    b.close();
  }
}

describe('npm start with the local reference back end', () => {
  it('enrols online, issues a funded wallet, accepts a payment and settles it with the back end', async () => {
    const box = await start({ port: 0 });
    expect(box.sync).toBeDefined();
    await box.sync!.service.runOnce(); // the first round fetches the back end's revocation list
    expect(box.journal.getMeta('revocations')).toMatchObject({ version: 0 });

    const outcome = await box.acceptor.handleScan(payCode());
    expect(outcome).toMatchObject({ kind: 'accept' });
    const round = await box.sync!.service.runOnce();
    expect(round.upload?.outcome).toBe('done');
    expect(box.journal.counts()).toMatchObject({ pending: 0, uploaded: 0 });
    expect(box.sync!.uploader.stats.settled).toBe(1);
    await box.stop();
    boxes.length = 0;

    withBackendDb((b) => {
      expect(b.ledger.account('merchant:DEMO-CAFE')?.balance).toBe(12_50);
      expect(b.ledger.account(DEMO_ACCOUNT)?.balance).toBe(DEMO_BALANCE - 12_50);
      expect(b.ledger.total()).toBe(0);
    });

    // A second start reuses the enrolment, the wallet and the database: nothing is moved aside.
    const again = await start({ port: 0 });
    expect(await again.acceptor.handleScan(payCode())).toMatchObject({ kind: 'accept' });
    await again.sync!.service.runOnce();
    expect(again.sync!.uploader.stats.settled).toBe(1);
    expect(readdirSync(join(dir, 'demo')).filter((n) => n.startsWith('stale-'))).toEqual([]);
  });

  it('moves an older offline (file-authority) demo aside and provisions afresh online', async () => {
    const offline = await start(null);
    expect(offline.sync).toBeUndefined();
    expect(await offline.acceptor.handleScan(payCode())).toMatchObject({ kind: 'accept' });
    await offline.stop();
    boxes.length = 0;
    expect(existsSync(join(dir, 'demo', 'authority'))).toBe(true);

    const online = await start({ port: 0 });
    const stale = readdirSync(join(dir, 'demo')).filter((n) => n.startsWith('stale-'));
    expect(stale).toHaveLength(1);
    expect(readdirSync(join(dir, 'demo', stale[0]!)).sort()).toEqual(['authority', 'box', 'merchant-card.txt', 'wallet.json']);
    expect(online.journal.counts().pending).toBe(0); // a fresh journal: the old offline debit stays in the moved state dir
    await online.sync!.service.runOnce(); // the back end's revocation list
    expect(await online.acceptor.handleScan(payCode())).toMatchObject({ kind: 'accept' });
    await online.sync!.service.runOnce();
    expect(online.sync!.uploader.stats.settled).toBe(1);
  });

  it('runs offline with its own revocation list when the back-end port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const box = await start({ port: (blocker.address() as AddressInfo).port });
      expect(box.sync).toBeUndefined();
      expect(box.journal.getMeta('revocations')).toMatchObject({ version: 1, wallets: [] });
      expect(await box.acceptor.handleScan(payCode())).toMatchObject({ kind: 'accept' });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
