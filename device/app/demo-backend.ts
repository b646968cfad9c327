/**
 * The embedded default with the local reference back end: `npm start` runs the back end in-process
 * (backend/lib/backend.ts + backend/http/server.ts, database under <demo.dir>/backend), enrols the
 * demo box ONLINE (POST /v1/enrol with the demo enrolment token), issues the demo wallet through the
 * back end's issuer (an account with a balance), and returns the `sync` config that points the box
 * at it. Without a free port the caller falls back to the offline demo (demo.ts).
 *
 * State left by an older demo that the back end does not know (the file-authority demo, or a back
 * end database deleted by hand) is moved aside into <demo.dir>/stale-<time>/, never deleted.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, resolve } from 'node:path';
import type { Log } from '../../drivers/common/log.ts';
import { formatAmount } from '../core/money.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { fromHex, toHex } from '../core/encoding/bytes.ts';
import { cardToText } from '../core/protocol/card.ts';
import { decodeCredential } from '../core/protocol/credential.ts';
import { FileKeyStore } from '../keys/file-keystore.ts';
import { type SyncConfig, SyncConfigSchema } from '../sync/config-schema.ts';
import { Backend } from '../../backend/lib/backend.ts';
import type { EnrolmentBundle } from '../../backend/lib/enrolment.ts';
import { createBackendServer } from '../../backend/http/server.ts';
import { newWalletFile, saveWalletFile } from '../../wallet/cli/wallet-file.ts';
import type { DemoConfig } from './demo.ts';
import { enrolmentRequest, importBundle, isProvisioned, loadProvisioned } from './provision.ts';

export interface DemoBackendConfig {
  host: string;
  port: number;
  intervalSec: number;
}

export interface OnlineDemoOptions {
  p: CryptoProvider;
  /** The box's state directory (config.stateDir, resolved). */
  stateDir: string;
  demo: DemoConfig & { backend: DemoBackendConfig };
  log: Log;
  now?: () => number;
  /** Friendly lines for the newcomer's terminal; default stdout. */
  print?: (line: string) => void;
}

export interface OnlineDemo {
  url: string;
  backend: Backend;
  /** The box's sync section: this back end, its pinned time key, link 'always', a short interval. */
  sync: SyncConfig;
  close(): Promise<void>;
}

/** The demo customer's account at the demo issuer. */
export const DEMO_ACCOUNT = 'demo-customer';
export const DEMO_BALANCE = 200_00;
export const DEMO_OFFLINE_LIMIT = 100_00;
const PINNED_KEY_FILE = 'backend-key.json';
const WALLET_FILE = 'wallet.json';
const CARD_FILE = 'merchant-card.txt';

function listen(server: Server, port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((done) => {
    const onError = (e: NodeJS.ErrnoException) => done(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      done(undefined);
    });
  });
}

/** Moves whatever the back end does not know out of the way, so the demo starts clean. */
function moveAside(o: OnlineDemoOptions, reason: string, paths: string[]): void {
  const target = join(o.demo.dir, `stale-${new Date((o.now ?? Date.now)()).toISOString().replace(/[:.]/g, '-')}`);
  const moved: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) continue;
    mkdirSync(target, { recursive: true, mode: 0o700 });
    renameSync(path, join(target, basename(path)));
    moved.push(path);
  }
  if (moved.length === 0) return;
  o.log.warn(
    { event: 'demo.stale-state-moved', reason, moved, to: target },
    `demo: ${reason}; moved the old demo state to ${target} and provisioning afresh against the local back end (\`rm -rf var\` for a clean slate)`,
  );
}

function walletIsKnown(backend: Backend, walletPath: string): boolean {
  try {
    const file = JSON.parse(readFileSync(walletPath, 'utf8')) as { credential?: string };
    const cred = file.credential ? decodeCredential(fromHex(file.credential)) : null;
    return cred !== null && backend.issuer.accountOf(toHex(cred.walletPublicKey)) !== undefined && backend.issuer.trustedIssuers().has(toHex(cred.issuerKeyId));
  } catch {
    return false;
  }
}

function boxIsKnown(o: OnlineDemoOptions, backend: Backend, store: FileKeyStore, nowSec: number): boolean {
  try {
    const pinned = JSON.parse(readFileSync(join(o.demo.dir, PINNED_KEY_FILE), 'utf8')) as { keyId?: string };
    const { identity } = loadProvisioned(store, o.p, nowSec);
    const row = backend.authority.box(toHex(identity.deviceKeyId));
    return row !== undefined && row.revoked_at_ms === null && backend.keys.trusted('time').has(pinned.keyId ?? '');
  } catch {
    return false;
  }
}

async function enrolOnline(o: OnlineDemoOptions, store: FileKeyStore, url: string, enrolToken: string, nowSec: number): Promise<void> {
  const req = enrolmentRequest(store, o.p, {
    merchantId: o.demo.merchantId,
    displayName: o.demo.displayName,
    currency: o.demo.currency,
    location: { lat: 52.52, lon: 13.405 },
  });
  const r = await fetch(`${url}/v1/enrol`, {
    method: 'POST',
    headers: { authorization: `Bearer ${enrolToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(req),
  });
  const body = (await r.json()) as EnrolmentBundle & { backendKey?: { keyId: string; publicKey: string }; error?: string };
  if (r.status !== 200 || !body.backendKey) throw new Error(`demo.enrol: the local back end answered ${r.status} ${body.error ?? ''}`.trim());
  const { backendKey, ...bundle } = body;
  const identity = importBundle(store, o.p, bundle, nowSec);
  writeFileSync(join(o.demo.dir, PINNED_KEY_FILE), `${JSON.stringify(backendKey, null, 2)}\n`);
  writeFileSync(join(o.demo.dir, CARD_FILE), `${cardToText(identity.ownCard)}\n`);
  o.log.info({ event: 'demo.enrolled', merchantId: o.demo.merchantId, card: identity.ownCard.serial, backend: url }, 'demo box enrolled online with the local back end');
}

function issueWallet(o: OnlineDemoOptions, backend: Backend, walletPath: string): void {
  if (!backend.ledger.account(DEMO_ACCOUNT)) backend.issuer.createAccount(DEMO_ACCOUNT, DEMO_BALANCE, o.demo.currency);
  const seed = o.p.randomBytes(32);
  const cred = backend.issuer.issueCredential(DEMO_ACCOUNT, o.p.ed25519Signer(seed).publicKey, DEMO_OFFLINE_LIMIT, 365);
  saveWalletFile(walletPath, newWalletFile(toHex(cred.bytes), seed, backend.keys.entries('authority')));
  const balance = backend.ledger.account(DEMO_ACCOUNT)?.balance ?? 0;
  o.log.info({ event: 'demo.wallet', path: walletPath, account: DEMO_ACCOUNT, balance }, 'demo wallet issued by the local back end');
}

/** After each settled batch, one line that tells the newcomer the money moved. */
function watchSettlements(o: OnlineDemoOptions, server: Server, backend: Backend): void {
  const print = o.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  server.on('request', (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/box/batches') return;
    res.on('finish', () => {
      if (res.statusCode !== 200) return;
      const merchant = backend.ledger.account(`merchant:${o.demo.merchantId}`);
      const customer = backend.ledger.account(DEMO_ACCOUNT);
      if (!merchant) return;
      const text = (n: number | undefined) => `${formatAmount(n ?? 0, 2)} ${o.demo.currency}`;
      o.log.info({ event: 'demo.settled', merchant: merchant.balance, customer: customer?.balance }, 'back end: batch settled');
      print(`  ✓ settled with the local back end: ${o.demo.displayName} now holds ${text(merchant.balance)}, the demo customer ${text(customer?.balance)}`);
    });
  });
}

/** Starts the back end and provisions the demo world; undefined when the port is taken (run offline). */
export async function startOnlineDemo(o: OnlineDemoOptions): Promise<OnlineDemo | undefined> {
  const { host, port, intervalSec } = o.demo.backend;
  const now = o.now ?? Date.now;
  mkdirSync(o.demo.dir, { recursive: true, mode: 0o700 });
  const dbPath = resolve(o.demo.dir, 'backend', 'backend.db');
  const backend = Backend.open({ dbPath, provider: o.p, now });
  let server: Server | undefined;
  try {
    const enrolToken = backend.token('enrol_token');
    server = createBackendServer(backend, { adminToken: backend.token('admin_token'), enrolToken, log: o.log.child({ part: 'backend' }) });
    const err = await listen(server, port, host);
    if (err) {
      o.log.warn(
        { event: 'demo.backend-unavailable', host, port, code: err.code },
        `demo: cannot start the local back end on ${host}:${port} (${err.code ?? err.message}); the box runs OFFLINE (free the port or set demo.backend.port)`,
      );
      backend.close();
      return undefined;
    }
    const url = `http://${host}:${(server.address() as AddressInfo).port}`;
    o.log.info({ event: 'demo.backend-listening', url, db: dbPath, backendKey: backend.backendKey().keyId }, 'local reference back end listening');

    const nowSec = Math.floor(now() / 1000);
    const store = new FileKeyStore({ stateDir: o.stateDir });
    const walletPath = join(o.demo.dir, WALLET_FILE);
    if (isProvisioned(store) && !boxIsKnown(o, backend, store, nowSec)) {
      moveAside(o, 'the box was provisioned by an older demo that the local back end does not know', [
        o.stateDir,
        join(o.demo.dir, 'authority'),
        join(o.demo.dir, PINNED_KEY_FILE),
        join(o.demo.dir, CARD_FILE),
        walletPath,
      ]);
    } else if (existsSync(walletPath) && !walletIsKnown(backend, walletPath)) {
      moveAside(o, 'the demo wallet was issued by an older demo', [walletPath, join(o.demo.dir, 'authority')]);
    }
    const freshStore = new FileKeyStore({ stateDir: o.stateDir });
    mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    if (!isProvisioned(freshStore)) await enrolOnline(o, freshStore, url, enrolToken, nowSec);
    if (!existsSync(walletPath)) issueWallet(o, backend, walletPath);
    watchSettlements(o, server, backend);

    const pinned = JSON.parse(readFileSync(join(o.demo.dir, PINNED_KEY_FILE), 'utf8')) as unknown;
    const sync = SyncConfigSchema.parse({ backendUrl: url, backendKey: pinned, intervalSec, connectivity: { kind: 'always' } });
    const running = server;
    return {
      url,
      backend,
      sync,
      close: () =>
        new Promise<void>((done) => {
          running.close(() => {
            backend.close();
            done();
          });
          running.closeAllConnections();
        }),
    };
  } catch (e) {
    server?.close();
    backend.close();
    throw e;
  }
}
