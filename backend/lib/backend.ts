/**
 * The reference back end's composition: one database, the key ring and the services on it.
 * No module-level state: the HTTP server, the CLI and the tests each open their own Backend.
 */
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { batchAckMessage } from '../../device/core/protocol/batch-ack.ts';
import { Acquirer, type AcquirerOptions } from './acquirer.ts';
import { ApiError } from './api-error.ts';
import { Authority } from './authority.ts';
import { BoxAuth } from './box-auth.ts';
import { type Db, getMeta, openBackendDb, setMeta } from './db.ts';
import { Directory } from './directory.ts';
import { Issuer } from './issuer.ts';
import { KeyRing, type PublicKeyEntry } from './keyring.ts';
import { Ledger } from './ledger.ts';
import { timeMessage } from './signed.ts';

export interface BackendOptions {
  /** SQLite file, or ':memory:'. */
  dbPath: string;
  provider: CryptoProvider;
  now?: () => number;
  acquirer?: AcquirerOptions;
}

export class Backend {
  readonly keys: KeyRing;
  readonly ledger: Ledger;
  readonly authority: Authority;
  readonly issuer: Issuer;
  readonly acquirer: Acquirer;
  readonly directory: Directory;
  readonly auth: BoxAuth;

  private constructor(
    readonly p: CryptoProvider,
    readonly db: Db,
    readonly now: () => number,
    opts: BackendOptions,
  ) {
    this.keys = new KeyRing(p, db, now);
    this.ledger = new Ledger(db, now);
    this.authority = new Authority(p, db, this.keys, now);
    this.issuer = new Issuer(p, db, this.keys, this.ledger, now);
    this.acquirer = new Acquirer(p, db, this.authority, this.issuer, this.ledger, now, opts.acquirer);
    this.directory = new Directory(p, db, this.keys, this.authority, now);
    this.auth = new BoxAuth(p, db, this.authority, now);
  }

  /** Opens the database; creates the authority, issuer and time keys on first start. */
  static open(opts: BackendOptions): Backend {
    const db = openBackendDb(opts.dbPath);
    try {
      return new Backend(opts.provider, db, opts.now ?? Date.now, opts);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    this.db.close();
  }

  /** The key boxes pin to check signed time. */
  backendKey(): PublicKeyEntry {
    return this.keys.entries('time')[0]!;
  }

  /** Processes a box's batch and signs the answer with the back-end key the box pinned. */
  answerBatch(box: Parameters<Acquirer['processBatch']>[0], body: Uint8Array): ReturnType<Acquirer['processBatch']> & { keyId: string; signature: string } {
    const a = this.acquirer.processBatch(box, body);
    const signature = this.keys.signer('time').sign(batchAckMessage(this.p, body, a.batchSeq, a.results, a.voids));
    return { ...a, keyId: this.keys.activeKeyId('time'), signature: toHex(signature) };
  }

  signedTime(nonceHex: string | null): { timeMs: number; keyId: string; signature: string } {
    if (!nonceHex || !/^[0-9a-f]{32}$/.test(nonceHex)) throw new ApiError(400, 'BAD_REQUEST', 'time: nonce must be 16 bytes of lowercase hex');
    const timeMs = this.now();
    const signature = this.keys.signer('time').sign(timeMessage(fromHex(nonceHex), timeMs));
    return { timeMs, keyId: this.keys.activeKeyId('time'), signature: toHex(signature) };
  }

  /** A token stored in the database (created at random on first use unless `given`). */
  token(name: 'admin_token' | 'enrol_token', given?: string): string {
    if (given) {
      setMeta(this.db, name, given);
      return given;
    }
    const existing = getMeta(this.db, name);
    if (existing) return existing;
    const fresh = toHex(this.p.randomBytes(24));
    setMeta(this.db, name, fresh);
    return fresh;
  }
}
