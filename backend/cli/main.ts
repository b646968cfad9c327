/**
 * The reference back end: the HTTP service, admin commands on its SQLite database, and the
 * file-based key tooling of the demo (docs/backend-api.md).
 *
 *   npm run backend -- serve [--port 8080] [--host 127.0.0.1] [--db var/backend/backend.db] [--admin-token t] [--enrol-token t]
 *                            [--tls-cert cert.pem --tls-key key.pem]   (https; prints the box's TLS pin)
 *   npm run backend -- tokens | account create --account id --balance 100.00 [--currency EUR] | account show --account id
 *                      | revoke wallet --wallet-key hex | revoke box --key-id hex | rotate merchant --merchant ID
 *                      | rotate key --role authority|issuer|time | refund --debit hex --amount 1.00 | flags | ledger check  [--db f]
 *   npm run backend -- enrol --db <db> --request <request.json> [--out <bundle.json>]        (records the box in the database)
 *   npm run backend -- credential|wallet create --db <db> --account id ...                    (issues from the database)
 *
 * Without --db, `enrol`, `credential` and `wallet create` keep using the file authority (--dir):
 *   npm run backend -- keys init --dir <dir>
 *   npm run backend -- enrol --dir <dir> --request <request.json> [--out <bundle.json>]
 *   npm run backend -- wallet create --dir <dir> --out <wallet.json> [--currency EUR] [--limit 50.00] [--days 180]
 *   npm run backend -- credential --dir <dir> --wallet-key <hex> [--currency EUR] [--limit 50.00] [--days 180]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { parseAmount } from '../../device/core/money.ts';
import { newWalletFile, saveWalletFile } from '../../wallet/cli/wallet-file.ts';
import { EnrolmentRequestSchema } from '../lib/enrolment.ts';
import { FileAuthority } from '../lib/file-authority.ts';
import { DEFAULT_DB, runDbCommand, serve } from './db-commands.ts';

const p = nobleProvider;

function need(v: string | undefined, name: string): string {
  if (!v) throw new Error(`backend: missing --${name}`);
  return v;
}

/**
 * `serve --tls-cert --tls-key`: the https variant of db-commands' serve(). It prints the SPKI pin a
 * technician copies into the box's `sync.tls.spkiSha256`.
 * TODO(db-commands owner): let serve() take `tls` and drop this copy.
 */
async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string', default: 'var/authority' },
      request: { type: 'string' },
      out: { type: 'string' },
      'wallet-key': { type: 'string' },
      currency: { type: 'string', default: 'EUR' },
      limit: { type: 'string', default: '50.00' },
      days: { type: 'string', default: '180' },
      db: { type: 'string' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'admin-token': { type: 'string' },
      'enrol-token': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      account: { type: 'string' },
      balance: { type: 'string' },
      'key-id': { type: 'string' },
      merchant: { type: 'string' },
      role: { type: 'string' },
      debit: { type: 'string' },
      amount: { type: 'string' },
    },
  });
  const [cmd, sub] = positionals;
  const fileCommand = cmd === 'keys' || ((cmd === 'enrol' || cmd === 'credential' || cmd === 'wallet') && !values.db);
  if (cmd === 'serve') {
    const { 'tls-cert': tlsCert, 'tls-key': tlsKey, ...rest } = values;
    const tls = tlsCert || tlsKey ? { cert: readFileSync(need(tlsCert, 'tls-cert')), key: readFileSync(need(tlsKey, 'tls-key')) } : undefined;
    await serve({ ...rest, db: values.db ?? DEFAULT_DB }, tls);
    return;
  }
  if (cmd && !fileCommand && runDbCommand(cmd, sub, { ...values, db: values.db ?? DEFAULT_DB })) return;
  const dir = values.dir;
  const nowSec = Math.floor(Date.now() / 1000);
  const limit = parseAmount(values.limit, 2);
  if (limit === null) throw new Error(`backend: --limit expects an amount like 50.00, got ${JSON.stringify(values.limit)}`);
  const notAfter = nowSec + Number(values.days) * 86400;

  if (cmd === 'keys' && sub === 'init') {
    const a = FileAuthority.init(p, dir);
    process.stdout.write(`${JSON.stringify(a.publicEntries(), null, 2)}\n`);
  } else if (cmd === 'enrol') {
    const req = EnrolmentRequestSchema.parse(JSON.parse(readFileSync(need(values.request, 'request'), 'utf8')));
    const bundle = FileAuthority.open(p, dir).enrol(req, nowSec);
    const text = `${JSON.stringify(bundle, null, 2)}\n`;
    if (values.out) writeFileSync(values.out, text);
    else process.stdout.write(text);
  } else if (cmd === 'credential') {
    const cred = FileAuthority.open(p, dir).issueCredential(fromHex(need(values['wallet-key'], 'wallet-key')), values.currency, limit, notAfter);
    process.stdout.write(`${toHex(cred.bytes)}\n`);
  } else if (cmd === 'wallet' && sub === 'create') {
    const a = FileAuthority.open(p, dir);
    const seed = p.randomBytes(32);
    const cred = a.issueCredential(p.ed25519Signer(seed).publicKey, values.currency, limit, notAfter);
    saveWalletFile(need(values.out, 'out'), newWalletFile(toHex(cred.bytes), seed, a.publicEntries().authorities));
    process.stderr.write(`wallet written to ${values.out}\n`);
  } else {
    process.stderr.write(
      'usage: backend serve [--port 8080] [--host 127.0.0.1] [--db f] [--admin-token t] [--enrol-token t] [--tls-cert f --tls-key f]\n' +
        '       backend tokens | account create|show | revoke wallet|box | rotate merchant|key | refund | flags | ledger check  [--db f]\n' +
        '       backend keys init | enrol --request f | credential --wallet-key hex | wallet create --out f  [--dir var/authority | --db f]\n',
    );
    process.exit(2);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
