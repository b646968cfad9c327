/**
 * Wallet issuer on the database: customer accounts with balances, credentials with offline
 * limits, and the versioned revocation list (each revocation is one new version).
 */
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import type { Credential } from '../../device/core/protocol/credential.ts';
import { type Db, statementCache } from './db.ts';
import { issueCredential } from './issue.ts';
import type { KeyRing } from './keyring.ts';
import type { Ledger } from './ledger.ts';
import { revocationsMessage } from './signed.ts';

export interface SignedRevocations {
  version: number;
  issuedAtMs: number;
  wallets: string[];
  keyId: string;
  signature: string;
}

const ACCOUNT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export class Issuer {
  private revocationCache: SignedRevocations | undefined;

  /** Compiled once, reused (see statementCache). */
  private readonly sql: ReturnType<typeof statementCache>;

  constructor(
    private readonly p: CryptoProvider,
    private readonly db: Db,
    private readonly keys: KeyRing,
    private readonly ledger: Ledger,
    private readonly now: () => number,
  ) {
    this.sql = statementCache(db);
  }

  /** Opens a customer account funded with `balance` (booked against the issuer's funding account). */
  createAccount(accountId: string, balance: number, currency: string): void {
    if (!ACCOUNT_ID.test(accountId) || accountId.startsWith('merchant:') || accountId.startsWith('issuer:')) {
      throw new BoxError('BAD_REQUEST', `issuer.createAccount: bad accountId ${JSON.stringify(accountId.slice(0, 70))}`);
    }
    if (!Number.isSafeInteger(balance) || balance < 0) throw new BoxError('BAD_REQUEST', `issuer.createAccount: bad balance ${balance}`);
    if (!/^[A-Z]{3}$/.test(currency)) throw new BoxError('BAD_REQUEST', `issuer.createAccount: bad currency ${JSON.stringify(currency)}`);
    this.db.transaction(() => {
      if (this.ledger.account(accountId)) throw new BoxError('ACCOUNT_EXISTS', `issuer.createAccount: ${accountId} exists`);
      this.ledger.ensureAccount(accountId, 'customer', currency);
      if (balance > 0) this.ledger.post(`fund:${accountId}:${this.now()}`, 'funding', null, [
        { accountId: `issuer:funding:${currency}`, kind: 'issuer_funding', currency, amount: -balance },
        { accountId, kind: 'customer', currency, amount: balance },
      ]);
    })();
  }

  issueCredential(accountId: string, walletPublicKey: Uint8Array, offlineLimit: number, days: number): Credential {
    const acct = this.ledger.account(accountId);
    if (acct?.kind !== 'customer') throw new BoxError('UNKNOWN_ACCOUNT', `issuer.issueCredential: no customer account ${JSON.stringify(accountId.slice(0, 70))}`);
    if (walletPublicKey.length !== 32) throw new BoxError('BAD_REQUEST', 'issuer.issueCredential: walletPublicKey must be 32 bytes');
    if (!Number.isSafeInteger(offlineLimit) || offlineLimit < 0 || offlineLimit > 0xffffffff) {
      throw new BoxError('BAD_REQUEST', `issuer.issueCredential: bad offlineLimit ${offlineLimit}`);
    }
    if (!Number.isSafeInteger(days) || days < 1 || days > 3650) throw new BoxError('BAD_REQUEST', `issuer.issueCredential: bad days ${days}`);
    const walletKey = toHex(walletPublicKey);
    if (this.revocationVersionOf(walletKey)) throw new BoxError('WALLET_REVOKED', `issuer.issueCredential: wallet ${walletKey.slice(0, 8)}… is revoked`);
    const cred = issueCredential(this.p, this.keys.signer('issuer'), {
      walletPublicKey,
      accountToken: this.p.randomBytes(16),
      currency: acct.currency,
      offlineLimit,
      notAfterSec: Math.floor(this.now() / 1000) + days * 86400,
    });
    this.sql(
        `INSERT INTO credentials(wallet_key, account_id, credential, issuer_key_id, offline_limit, currency, not_after_sec, issued_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(wallet_key) DO UPDATE SET account_id = excluded.account_id, credential = excluded.credential,
         issuer_key_id = excluded.issuer_key_id, offline_limit = excluded.offline_limit, currency = excluded.currency,
         not_after_sec = excluded.not_after_sec, issued_at_ms = excluded.issued_at_ms`,
      )
      .run(walletKey, accountId, toHex(cred.bytes), toHex(cred.issuerKeyId), offlineLimit, acct.currency, cred.notAfter, this.now());
    return cred;
  }

  /** The account a wallet key pays from, if the issuer knows it. */
  accountOf(walletKey: string): { accountId: string; offlineLimit: number } | undefined {
    const row = this.sql('SELECT account_id, offline_limit FROM credentials WHERE wallet_key = ?').get(walletKey) as
      | { account_id: string; offline_limit: number }
      | undefined;
    return row ? { accountId: row.account_id, offlineLimit: row.offline_limit } : undefined;
  }

  /** Revokes a wallet key; returns the list version that first lists it (idempotent). */
  revoke(walletKey: string): number {
    if (!/^[0-9a-f]{64}$/.test(walletKey)) throw new BoxError('BAD_REQUEST', 'issuer.revoke: walletPublicKey must be 32 bytes of lowercase hex');
    return this.db.transaction(() => {
      const existing = this.revocationVersionOf(walletKey);
      if (existing) return existing.version;
      const version = (this.sql('SELECT COALESCE(MAX(version), 0) AS v FROM revocations').get() as { v: number }).v + 1;
      this.sql('INSERT INTO revocations(version, wallet_key, revoked_at_ms) VALUES (?, ?, ?)').run(version, walletKey, this.now());
      this.revocationCache = undefined;
      return version;
    })();
  }

  revocationVersionOf(walletKey: string): { version: number; atMs: number } | undefined {
    const row = this.sql('SELECT version, revoked_at_ms FROM revocations WHERE wallet_key = ?').get(walletKey) as
      | { version: number; revoked_at_ms: number }
      | undefined;
    return row ? { version: row.version, atMs: row.revoked_at_ms } : undefined;
  }

  /**
   * The signed list, re-signed at least every `maxAgeMs` so a box that syncs never holds a list
   * older than that (the box declines with REVOCATION_STALE past its own limit).
   */
  signedRevocations(maxAgeMs = 3600_000): SignedRevocations {
    const version = (this.sql('SELECT COALESCE(MAX(version), 0) AS v FROM revocations').get() as { v: number }).v;
    const c = this.revocationCache;
    const now = this.now();
    if (c && c.version === version && c.keyId === this.keys.activeKeyId('issuer') && now - c.issuedAtMs < maxAgeMs) return c;
    const wallets = (this.sql('SELECT wallet_key FROM revocations ORDER BY wallet_key').all() as { wallet_key: string }[]).map((r) => r.wallet_key);
    const signer = this.keys.signer('issuer');
    this.revocationCache = {
      version,
      issuedAtMs: now,
      wallets,
      keyId: this.keys.activeKeyId('issuer'),
      signature: toHex(signer.sign(revocationsMessage(this.p, version, now, wallets))),
    };
    return this.revocationCache;
  }

  trustedIssuers(): Map<string, Uint8Array> {
    return this.keys.trusted('issuer');
  }
}
