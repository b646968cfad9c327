/**
 * The back end's signing keys: key authority (cards, directory), wallet issuer (credentials,
 * revocation lists) and the time key (signed time). Created on first start; a rollover makes a
 * new key active, keeps the old one trusted (cards and credentials it signed stay valid) and
 * publishes a statement signed by the old key (label "qrpay/v1/key-rollover").
 */
import type { CryptoProvider, Ed25519Signer } from '../../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { type Db, statementCache } from './db.ts';
import { type KeyRole, rolloverMessage } from './signed.ts';

export interface PublicKeyEntry {
  keyId: string;
  publicKey: string;
}

export interface Rollover {
  role: KeyRole;
  oldKeyId: string;
  newKeyId: string;
  newPublicKey: string;
  issuedAtMs: number;
  signature: string;
}

const ROLES: readonly KeyRole[] = ['authority', 'issuer', 'time'];

export class KeyRing {
  private readonly signers = new Map<string, Ed25519Signer>();

  /** Compiled once, reused (see statementCache). */
  private readonly sql: ReturnType<typeof statementCache>;

  constructor(
    private readonly p: CryptoProvider,
    private readonly db: Db,
    private readonly now: () => number,
  ) {
    this.sql = statementCache(db);
    for (const role of ROLES) if (!this.activeRow(role)) this.create(role);
  }

  private create(role: KeyRole): { keyId: string; publicKey: Uint8Array } {
    const seed = this.p.randomBytes(32);
    const pub = this.p.ed25519Signer(seed).publicKey;
    const id = toHex(keyId(this.p, pub));
    this.sql('INSERT INTO signing_keys(key_id, role, seed, public_key, created_at_ms) VALUES (?, ?, ?, ?, ?)')
      .run(id, role, toHex(seed), toHex(pub), this.now());
    return { keyId: id, publicKey: pub };
  }

  private activeRow(role: KeyRole): { key_id: string; seed: string; public_key: string } | undefined {
    return this.sql('SELECT key_id, seed, public_key FROM signing_keys WHERE role = ? AND retired_at_ms IS NULL ORDER BY created_at_ms DESC, rowid DESC LIMIT 1')
      .get(role) as { key_id: string; seed: string; public_key: string } | undefined;
  }

  /** The active signer of a role. */
  signer(role: KeyRole): Ed25519Signer {
    const row = this.activeRow(role);
    if (!row) throw new BoxError('BACKEND_NO_KEY', `keyring.signer: no active ${role} key`);
    let s = this.signers.get(row.key_id);
    if (!s) {
      s = this.p.ed25519Signer(fromHex(row.seed));
      this.signers.set(row.key_id, s);
    }
    return s;
  }

  activeKeyId(role: KeyRole): string {
    return toHex(keyId(this.p, this.signer(role).publicKey));
  }

  /** All trusted keys of a role (active first, then retired ones still trusted). */
  entries(role: KeyRole): PublicKeyEntry[] {
    const rows = this.sql('SELECT key_id, public_key FROM signing_keys WHERE role = ? ORDER BY retired_at_ms IS NOT NULL, created_at_ms DESC, rowid DESC')
      .all(role) as { key_id: string; public_key: string }[];
    return rows.map((r) => ({ keyId: r.key_id, publicKey: r.public_key }));
  }

  trusted(role: KeyRole): Map<string, Uint8Array> {
    return new Map(this.entries(role).map((e) => [e.keyId, fromHex(e.publicKey)]));
  }

  /** Replaces the active key of `role`; the old key signs the new one and stays trusted. */
  rollover(role: KeyRole): Rollover {
    return this.db.transaction(() => {
      const old = this.signer(role);
      const oldKeyId = this.activeKeyId(role);
      const at = this.now();
      this.sql('UPDATE signing_keys SET retired_at_ms = ? WHERE key_id = ?').run(at, oldKeyId);
      const fresh = this.create(role);
      const r: Rollover = {
        role,
        oldKeyId,
        newKeyId: fresh.keyId,
        newPublicKey: toHex(fresh.publicKey),
        issuedAtMs: at,
        signature: toHex(old.sign(rolloverMessage(role, fresh.publicKey, at))),
      };
      this.sql('INSERT INTO key_rollovers(role, old_key_id, new_key_id, new_public_key, issued_at_ms, signature) VALUES (?, ?, ?, ?, ?, ?)')
        .run(r.role, r.oldKeyId, r.newKeyId, r.newPublicKey, r.issuedAtMs, r.signature);
      this.sql('UPDATE merchants SET roster_version = roster_version + 1').run();
      return r;
    })();
  }

  rollovers(): Rollover[] {
    const rows = this.sql('SELECT role, old_key_id, new_key_id, new_public_key, issued_at_ms, signature FROM key_rollovers ORDER BY id')
      .all() as { role: KeyRole; old_key_id: string; new_key_id: string; new_public_key: string; issued_at_ms: number; signature: string }[];
    return rows.map((r) => ({
      role: r.role,
      oldKeyId: r.old_key_id,
      newKeyId: r.new_key_id,
      newPublicKey: r.new_public_key,
      issuedAtMs: r.issued_at_ms,
      signature: r.signature,
    }));
  }
}
