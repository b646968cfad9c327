/**
 * Key tooling of the reference back end (grown into the HTTP service by the reconciliation issue).
 *
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

const p = nobleProvider;

function need(v: string | undefined, name: string): string {
  if (!v) throw new Error(`backend: missing --${name}`);
  return v;
}

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
    },
  });
  const [cmd, sub] = positionals;
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
    process.stderr.write('usage: backend keys init | enrol --request f | credential --wallet-key hex | wallet create --out f  [--dir var/authority]\n');
    process.exit(2);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
