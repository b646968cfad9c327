/**
 * The reference wallet on the command line.
 *
 *   npm run wallet -- pay 12.50 [--send [--to host:port]] [--png f.png] [--svg f.svg] [--text] [--card QC:…|file] [--wallet file]
 *   npm run wallet -- show [--wallet file]
 *   npm run wallet -- locate --lat 52.52 --lon 13.405 [--radius m] | --cell id | --bssid mac
 *                    [--backend URL | --snapshot file] [--pay 12.50 [--send [--to host:port]]]   (wallet/cli/locate.ts)
 *   npm run wallet -- tap [--socket path] [--pay 12.50 [--send [--to host:port]] [--png f.png] [--text]]
 *                    taps the box's simulated NFC reader (wallet/cli/tap.ts): without --pay prints the
 *                    verified offer; with --pay pays exactly that charge to the tap's session key
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { formatAmount, parseAmount } from '../../device/core/money.ts';
import { cardFromText, type IdentityCard } from '../../device/core/protocol/card.ts';
import { maskToken } from '../../device/core/protocol/credential.ts';
import type { NfcAnswer } from '../../device/core/protocol/nfc-answer.ts';
import { locateOffline, locateOnline, parseLocateQuery } from './locate.ts';
import { strayPositionalError } from './args.ts';
import { renderQr } from './qr.ts';
import { approvedAmount, DEFAULT_NFC_SOCKET, describeOffer, tapForAnswer } from './tap.ts';
import { loadWalletFile, openWallet } from './wallet-file.ts';
import { fromHex } from '../../device/core/encoding/bytes.ts';

const DEFAULT_WALLET = 'var/demo/wallet.json';
const DEFAULT_CARD = 'var/demo/merchant-card.txt';

function usage(exitCode = 2): never {
  (exitCode === 0 ? process.stdout : process.stderr).write(
    'usage: wallet pay <amount> [--send [--to host:port]] [--png file] [--svg file] [--text] [--card QC:…|file] [--wallet file]\n' +
      '       wallet show [--wallet file]\n' +
      '       wallet tap [--socket path] [--pay amount [--send [--to host:port]] [--png file] [--text]] [--wallet file]\n' +
      '       wallet locate --lat d --lon d [--radius m] | --cell id | --bssid mac  [--backend URL | --snapshot file] [--pay amount [--send [--to host:port]]]\n' +
      '       (--send goes to the simulated scanner at 127.0.0.1:7410 unless --to says otherwise)\n',
  );
  process.exit(exitCode);
}

function loadCard(arg: string | undefined): IdentityCard {
  const src = arg ?? DEFAULT_CARD;
  const text = src.startsWith('QC:') ? src : existsSync(src) ? readFileSync(src, 'utf8').trim() : '';
  if (!text) throw new Error(`wallet: no merchant card at ${src} (start the box once with npm start, or pass --card)`);
  const card = cardFromText(text);
  if (!card) throw new Error(`wallet: ${src} is not a valid identity card (expected QC:… text)`);
  return card;
}

function send(text: string, target: string): Promise<void> {
  const [host, port] = target.includes(':') ? [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)] : ['127.0.0.1', target];
  return new Promise((resolve, reject) => {
    const s = connect({ host: host || '127.0.0.1', port: Number(port) }, () => s.end(`${text}\n`, () => resolve()));
    s.on('error', (e) => reject(new Error(`wallet: cannot reach the box's simulated scanner at ${host}:${port} (${e.message}); is npm start running?`)));
  });
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      wallet: { type: 'string' },
      card: { type: 'string' },
      send: { type: 'boolean' },
      to: { type: 'string' },
      png: { type: 'string' },
      svg: { type: 'string' },
      text: { type: 'boolean' },
      quiet: { type: 'boolean' },
      lat: { type: 'string' },
      lon: { type: 'string' },
      radius: { type: 'string' },
      cell: { type: 'string' },
      bssid: { type: 'string' },
      backend: { type: 'string' },
      snapshot: { type: 'string' },
      pay: { type: 'string' },
      socket: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals[0] === 'help') usage(0);
  const stray = strayPositionalError(positionals);
  if (stray) throw new Error(stray);
  const [cmd, arg] = positionals;
  const wallet = openWallet(nobleProvider, values.wallet ?? DEFAULT_WALLET);
  const cred = wallet.credential;
  if (cmd === 'show') {
    process.stdout.write(
      `${JSON.stringify({ walletKey: toHex(wallet.publicKey), token: maskToken(cred.accountToken), currency: cred.currency, offlineLimit: cred.offlineLimit, expires: new Date(cred.notAfter * 1000).toISOString(), counter: wallet.counter }, null, 2)}\n`,
    );
    return;
  }
  let card: IdentityCard;
  let amountText = arg;
  let nfc: NfcAnswer | undefined;
  if (cmd === 'tap') {
    const socketPath = values.socket ?? DEFAULT_NFC_SOCKET;
    const answer = await tapForAnswer(socketPath, wallet);
    const offer = describeOffer(answer);
    process.stderr.write(`tapped ${answer.card.displayName} (${answer.card.merchantId}): box signature and card verified, it asks ${offer['amount']} (charge ${answer.chargeId})\n`);
    if (!values.pay) {
      process.stdout.write(`${JSON.stringify(offer)}\n`);
      return;
    }
    approvedAmount(answer, values.pay);
    card = answer.card;
    amountText = values.pay;
    nfc = answer;
  } else if (cmd === 'locate') {
    const q = parseLocateQuery(values);
    const walletPath = values.wallet ?? DEFAULT_WALLET;
    const found = values.snapshot
      ? locateOffline(nobleProvider, values.snapshot, new Map(loadWalletFile(walletPath).authorities.map((a) => [a.keyId, fromHex(a.publicKey)])), q)
      : await locateOnline(values.backend ?? 'http://127.0.0.1:8080', q);
    if (!found) throw new Error('wallet locate: no merchant found there');
    process.stderr.write(`found ${found.card.displayName} (${found.merchantId})${found.distance_m !== undefined ? ` at ${found.distance_m} m` : ''} via the ${found.source}\n`);
    if (!values.pay) {
      process.stdout.write(`${JSON.stringify({ merchantId: found.merchantId, serial: found.card.serial, distance_m: found.distance_m, source: found.source })}\n`);
      return;
    }
    card = found.card;
    amountText = values.pay;
  } else {
    if (cmd !== 'pay' || !arg) usage();
    card = loadCard(values.card);
  }
  if (!amountText) usage();
  const amount = parseAmount(amountText, card.currencyExponent);
  if (amount === null || amount === 0) throw new Error(`wallet pay: expected an amount like 12.50, got ${JSON.stringify(amountText)}`);
  const { text, counter } = wallet.pay(card, amount, nfc ? { nfc } : {});
  process.stderr.write(
    `paying ${formatAmount(amount, card.currencyExponent, card.currency)} to ${card.displayName} (${card.merchantId})${nfc ? ` in the tap's session (charge ${nfc.chargeId})` : ''}, counter ${counter}, ${text.length} chars\n`,
  );
  if (values.png || values.svg || (!values.text && !values.send && !values.quiet)) {
    const qr = await renderQr(text);
    if (values.png) writeFileSync(values.png, qr.png);
    if (values.svg) writeFileSync(values.svg, qr.svg);
    if (!values.png && !values.svg) process.stdout.write(`${qr.terminal}\n`);
    process.stderr.write(`QR version ${qr.version}, level M${values.png ? `, PNG ${values.png}` : ''}${values.svg ? `, SVG ${values.svg}` : ''}\n`);
  }
  if (values.text || values.send) process.stdout.write(`${text}\n`);
  if (values.send) {
    const target = values.to ?? '127.0.0.1:7410';
    await send(text, target);
    process.stderr.write(`sent to the simulated scanner at ${target}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
