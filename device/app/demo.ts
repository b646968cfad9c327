/**
 * The OFFLINE demo world: a local file key authority and issuer, this box enrolled as a demo
 * merchant, and a demo wallet for `npm run wallet -- pay 12.50 --send`. Created once under
 * config.demo.dir; later starts reuse it. Used when the config's demo section has no `backend`
 * (or its port is taken); with one, demo-backend.ts provisions the box online instead.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Log } from '../../drivers/common/log.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { toHex } from '../core/encoding/bytes.ts';
import { cardToText } from '../core/protocol/card.ts';
import type { KeyStore } from '../keys/types.ts';
import { FileAuthority } from '../../backend/lib/file-authority.ts';
import { newWalletFile, saveWalletFile } from '../../wallet/cli/wallet-file.ts';
import { enrolmentRequest, importBundle, isProvisioned } from './provision.ts';

export interface DemoConfig {
  dir: string;
  merchantId: string;
  displayName: string;
  currency: string;
}

/** The line that tells a newcomer what to type next. */
export const DEMO_HINT =
  '  Demo box ready. In a second terminal, pay it:  npm run wallet -- pay 12.50 --send   (or by NFC tap:  npm run wallet -- tap --pay 12.50 --send)';

export function demoAuthorityDir(dir: string): string {
  return join(dir, 'authority');
}

export function ensureDemo(p: CryptoProvider, store: KeyStore, cfg: DemoConfig, nowSec: number, log: Log): void {
  mkdirSync(cfg.dir, { recursive: true, mode: 0o700 });
  const authorityDir = demoAuthorityDir(cfg.dir);
  let opened: FileAuthority | undefined;
  const authority = () => {
    opened ??= FileAuthority.exists(authorityDir) ? FileAuthority.open(p, authorityDir) : FileAuthority.init(p, authorityDir);
    return opened;
  };
  if (!isProvisioned(store)) {
    const req = enrolmentRequest(store, p, {
      merchantId: cfg.merchantId,
      displayName: cfg.displayName,
      currency: cfg.currency,
      location: { lat: 52.52, lon: 13.405 },
    });
    const identity = importBundle(store, p, authority().enrol(req, nowSec), nowSec);
    writeFileSync(join(cfg.dir, 'merchant-card.txt'), `${cardToText(identity.ownCard)}\n`);
    log.info({ event: 'demo.provisioned', merchantId: cfg.merchantId, card: identity.ownCard.serial }, 'demo merchant provisioned');
  }
  const walletPath = join(cfg.dir, 'wallet.json');
  if (!existsSync(walletPath)) {
    const seed = p.randomBytes(32);
    const cred = authority().issueCredential(p.ed25519Signer(seed).publicKey, cfg.currency, 200_00, nowSec + 365 * 86400);
    saveWalletFile(walletPath, newWalletFile(toHex(cred.bytes), seed, authority().publicEntries().authorities));
    log.info({ event: 'demo.wallet', path: walletPath }, 'demo wallet created');
  }
}
