/** The reference wallet's state on disk (JSON, mode 0600): seed, credential, counter, trusted authorities. */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { decodeCredential } from '../../device/core/protocol/credential.ts';
import { Wallet } from '../lib/wallet.ts';

export interface WalletFile {
  version: 1;
  seed: string;
  credential: string;
  counter: number;
  authorities: { keyId: string; publicKey: string }[];
}

export function saveWalletFile(path: string, w: WalletFile): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(w, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function loadWalletFile(path: string): WalletFile {
  if (!existsSync(path)) throw new BoxError('WALLET_MISSING', `wallet: no wallet file at ${path} (start the box once with npm start, or pass --wallet)`);
  const w = JSON.parse(readFileSync(path, 'utf8')) as WalletFile;
  if (w.version !== 1 || typeof w.seed !== 'string' || typeof w.counter !== 'number') {
    throw new BoxError('WALLET_BAD_FILE', `wallet: ${path} is not a version 1 wallet file`);
  }
  return w;
}

/** Opens the wallet; every new counter is written to the file before the code is shown. */
export function openWallet(p: CryptoProvider, path: string, now: () => number = Date.now): Wallet {
  const file = loadWalletFile(path);
  const credential = decodeCredential(fromHex(file.credential));
  if (!credential) throw new BoxError('WALLET_BAD_FILE', `wallet: ${path} holds an unreadable credential`);
  return new Wallet(
    p,
    { seed: fromHex(file.seed), credential, counter: file.counter },
    {
      authorities: new Map(file.authorities.map((a) => [a.keyId, fromHex(a.publicKey)])),
      now,
      saveCounter: (counter) => saveWalletFile(path, { ...loadWalletFile(path), counter }),
    },
  );
}

export function newWalletFile(credentialHex: string, seed: Uint8Array, authorities: WalletFile['authorities']): WalletFile {
  return { version: 1, seed: toHex(seed), credential: credentialHex, counter: 0, authorities };
}
