/**
 * Back-end commands that work on the SQLite database (`--db`, default var/backend/backend.db):
 * the HTTP service and the admin tasks. See docs/backend-api.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { parseAmount } from '../../device/core/money.ts';
import { createNodeProvider } from '../../device/crypto/node-provider.ts';
import { newWalletFile, saveWalletFile } from '../../wallet/cli/wallet-file.ts';
import { Backend } from '../lib/backend.ts';
import { EnrolmentRequestSchema } from '../lib/enrolment.ts';
import type { KeyRole } from '../lib/signed.ts';
import { createBackendServer, tlsSpkiPin } from '../http/server.ts';

export const DEFAULT_DB = 'var/backend/backend.db';

export interface DbArgs {
  db: string;
  port: string;
  host: string;
  'admin-token'?: string;
  'enrol-token'?: string;
  request?: string;
  out?: string;
  account?: string;
  balance?: string;
  currency: string;
  limit: string;
  days: string;
  'wallet-key'?: string;
  'key-id'?: string;
  merchant?: string;
  role?: string;
  debit?: string;
  amount?: string;
}

function need(v: string | undefined, name: string): string {
  if (!v) throw new Error(`backend: missing --${name}`);
  return v;
}

function money(v: string, name: string): number {
  const n = parseAmount(v, 2);
  if (n === null) throw new Error(`backend: --${name} expects an amount like 12.50, got ${JSON.stringify(v)}`);
  return n;
}

const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

/** Serves the API; with `tls` (PEM cert and key) over https, printing the key pin boxes configure. */
export async function serve(a: DbArgs, tls?: { cert: Buffer; key: Buffer }): Promise<void> {
  const pin = tls ? tlsSpkiPin(tls.cert) : undefined;
  const log = pino({ name: 'backend' }, pino.destination({ dest: 1, sync: true }));
  const backend = Backend.open({ dbPath: a.db, provider: createNodeProvider({ verifyKeyCacheSize: 4096 }) });
  const adminToken = backend.token('admin_token', a['admin-token']);
  const enrolToken = backend.token('enrol_token', a['enrol-token']);
  const server = createBackendServer(backend, { adminToken, enrolToken, log, ...(tls ? { tls } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(a.port), a.host, resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : a.port;
  log.info({ url: `${tls ? 'https' : 'http'}://${a.host}:${port}`, db: a.db, backendKey: backend.backendKey().keyId, ...(pin ? { tlsSpkiSha256: pin } : {}) }, 'backend: listening');
  if (pin) process.stderr.write(`backend: TLS key pin for the box config, sync.tls.spkiSha256: ["${pin}"]\n`);
  if (!a['admin-token'] || !a['enrol-token']) {
    process.stderr.write(`backend: tokens are stored in ${a.db}; show them with \`npm run backend -- tokens --db ${a.db}\`\n`);
  }
  const stop = () => {
    server.close(() => {
      backend.close();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Runs one admin command on the database; returns false when `cmd` is not one. */
export function runDbCommand(cmd: string, sub: string | undefined, a: DbArgs): boolean {
  const open = () => Backend.open({ dbPath: a.db, provider: createNodeProvider({ verifyKeyCacheSize: 4096 }) });
  const withBackend = (fn: (b: Backend) => void) => {
    const b = open();
    try {
      fn(b);
    } finally {
      b.close();
    }
  };
  switch (`${cmd} ${sub ?? ''}`.trim()) {
    case 'tokens':
      withBackend((b) => out({ adminToken: b.token('admin_token', a['admin-token']), enrolToken: b.token('enrol_token', a['enrol-token']) }));
      return true;
    case 'enrol':
      withBackend((b) => {
        const req = EnrolmentRequestSchema.parse(JSON.parse(readFileSync(need(a.request, 'request'), 'utf8')));
        const bundle = b.authority.enrol(req);
        const text = `${JSON.stringify(bundle, null, 2)}\n`;
        if (a.out) writeFileSync(a.out, text);
        else process.stdout.write(text);
        process.stderr.write(`backend: pin the back-end time key ${JSON.stringify(b.backendKey())}\n`);
      });
      return true;
    case 'account create':
      withBackend((b) => {
        b.issuer.createAccount(need(a.account, 'account'), money(a.balance ?? '0', 'balance'), a.currency);
        out(b.ledger.account(a.account!));
      });
      return true;
    case 'account show':
      withBackend((b) => out({ ...b.ledger.account(need(a.account, 'account')), entries: b.ledger.entriesOf(a.account!) }));
      return true;
    case 'credential':
      withBackend((b) => {
        const cred = b.issuer.issueCredential(need(a.account, 'account'), fromHex(need(a['wallet-key'], 'wallet-key')), money(a.limit, 'limit'), Number(a.days));
        process.stdout.write(`${toHex(cred.bytes)}\n`);
      });
      return true;
    case 'wallet create':
      withBackend((b) => {
        const seed = b.p.randomBytes(32);
        const cred = b.issuer.issueCredential(need(a.account, 'account'), b.p.ed25519Signer(seed).publicKey, money(a.limit, 'limit'), Number(a.days));
        saveWalletFile(need(a.out, 'out'), newWalletFile(toHex(cred.bytes), seed, b.keys.entries('authority')));
        process.stderr.write(`wallet written to ${a.out}\n`);
      });
      return true;
    case 'revoke wallet':
      withBackend((b) => out({ version: b.issuer.revoke(need(a['wallet-key'], 'wallet-key')) }));
      return true;
    case 'revoke box':
      withBackend((b) => out({ revoked: b.authority.revokeBox(need(a['key-id'], 'key-id')) }));
      return true;
    case 'rotate merchant':
      withBackend((b) => out({ keyId: b.authority.rotateMerchantKey(need(a.merchant, 'merchant')) }));
      return true;
    case 'rotate key':
      withBackend((b) => {
        const role = need(a.role, 'role');
        if (role !== 'authority' && role !== 'issuer' && role !== 'time') throw new Error(`backend: --role must be authority, issuer or time, got ${JSON.stringify(role)}`);
        out(b.keys.rollover(role as KeyRole));
      });
      return true;
    case 'refund':
      withBackend((b) => out(b.acquirer.refund(need(a.debit, 'debit'), money(need(a.amount, 'amount'), 'amount'))));
      return true;
    case 'flags':
      withBackend((b) => out(b.acquirer.flags()));
      return true;
    case 'ledger check':
      withBackend((b) => out({ total: b.ledger.total(), balanced: b.ledger.total() === 0 }));
      return true;
    default:
      return false;
  }
}
