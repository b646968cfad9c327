/**
 * Key authority on the database: enrols boxes (online or from an offline request file), signs
 * identity cards, renews them before they expire, rotates merchant keys and revokes boxes.
 *
 * Multi-till rule: every box of a merchant holds the same merchant X25519 key, wrapped to its own
 * identity key, and the roster of all the merchant's valid cards (each till has its own card and
 * device key). A rotation keeps the previous merchant key in every bundle until the next one.
 */
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { BoxError } from '../../device/core/errors.ts';
import { cardFromText, cardHash, cardToText, type IdentityCard } from '../../device/core/protocol/card.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { wrapMerchantKey } from '../../device/core/protocol/merchant-key.ts';
import { bumpMeta, type Db, getMeta, statementCache } from './db.ts';
import type { EnrolmentBundle, EnrolmentRequest } from './enrolment.ts';
import { issueCard } from './issue.ts';
import type { KeyRing } from './keyring.ts';

export const CARD_VALIDITY_DAYS = 365;
export const RENEW_BEFORE_DAYS = 30;

export interface BoxRow {
  device_key_id: string;
  merchant_id: string;
  device_public_key: string;
  identity_public_key: string;
  till_id: number;
  own_card_serial: number;
  delivered_roster_version: number;
  revoked_at_ms: number | null;
}

interface MerchantRow {
  merchant_id: string;
  display_name: string;
  currency: string;
  currency_exponent: number;
  next_till: number;
  roster_version: number;
}

export class Authority {
  private readonly cardCache = new Map<number, { card: IdentityCard; hash: Uint8Array }>();

  /** Compiled once, reused (see statementCache). */
  private readonly sql: ReturnType<typeof statementCache>;

  constructor(
    private readonly p: CryptoProvider,
    private readonly db: Db,
    private readonly keys: KeyRing,
    private readonly now: () => number,
  ) {
    this.sql = statementCache(db);
  }

  box(deviceKeyId: string): BoxRow | undefined {
    return this.sql('SELECT * FROM boxes WHERE device_key_id = ?').get(deviceKeyId) as BoxRow | undefined;
  }

  private merchant(merchantId: string): MerchantRow | undefined {
    return this.sql('SELECT * FROM merchants WHERE merchant_id = ?').get(merchantId) as MerchantRow | undefined;
  }

  /** Merchant keys, current first. */
  private merchantKeys(merchantId: string): { key_id: string; secret: string; public_key: string }[] {
    return this.sql('SELECT key_id, secret, public_key FROM merchant_keys WHERE merchant_id = ? ORDER BY seq DESC').all(merchantId) as {
      key_id: string;
      secret: string;
      public_key: string;
    }[];
  }

  private addMerchantKey(merchantId: string): void {
    const secret = this.p.randomBytes(32);
    const pub = this.p.x25519PrivateKey(secret).publicKey;
    const seq = (this.sql('SELECT COALESCE(MAX(seq), 0) AS s FROM merchant_keys WHERE merchant_id = ?').get(merchantId) as { s: number }).s + 1;
    this.sql('INSERT INTO merchant_keys(key_id, merchant_id, secret, public_key, created_at_ms, seq) VALUES (?, ?, ?, ?, ?, ?)')
      .run(toHex(keyId(this.p, pub)), merchantId, toHex(secret), toHex(pub), this.now(), seq);
  }

  private nextSerial(): number {
    if (getMeta(this.db, 'next_card_serial') === undefined) return bumpMeta(this.db, 'next_card_serial', 1000);
    return bumpMeta(this.db, 'next_card_serial');
  }

  private signCardFor(m: MerchantRow, box: Pick<BoxRow, 'device_key_id' | 'device_public_key' | 'till_id'>, location?: { lat: number; lon: number }): IdentityCard {
    const current = this.merchantKeys(m.merchant_id)[0]!;
    const nowSec = Math.floor(this.now() / 1000);
    const serial = this.nextSerial();
    const card = issueCard(this.p, this.keys.signer('authority'), {
      serial,
      tillId: box.till_id,
      merchantId: m.merchant_id,
      displayName: m.display_name,
      currency: m.currency,
      currencyExponent: m.currency_exponent,
      encPublicKey: fromHex(current.public_key),
      devicePublicKey: fromHex(box.device_public_key),
      notBeforeSec: nowSec - 3600,
      notAfterSec: nowSec + CARD_VALIDITY_DAYS * 86400,
      ...(location ? { location } : {}),
    });
    this.sql(
        'INSERT INTO cards(serial, merchant_id, device_key_id, till_id, text, enc_key_id, authority_key_id, not_after_sec, issued_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(serial, m.merchant_id, box.device_key_id, box.till_id, cardToText(card), current.key_id, toHex(card.authorityKeyId), card.notAfter, this.now());
    this.sql('UPDATE boxes SET own_card_serial = ? WHERE device_key_id = ?').run(serial, box.device_key_id);
    this.sql('UPDATE merchants SET roster_version = roster_version + 1 WHERE merchant_id = ?').run(m.merchant_id);
    return card;
  }

  /** Enrols a box (or re-enrols the same device key: returns a fresh bundle, no new card). */
  enrol(req: EnrolmentRequest): EnrolmentBundle {
    return this.db.transaction(() => {
      const deviceKeyId = toHex(keyId(this.p, fromHex(req.devicePublicKey)));
      const existing = this.box(deviceKeyId);
      if (existing) {
        if (existing.revoked_at_ms !== null) throw new BoxError('BOX_REVOKED', `authority.enrol: box ${deviceKeyId} is revoked`);
        if (existing.merchant_id !== req.merchantId || existing.identity_public_key !== req.identityPublicKey) {
          throw new BoxError('ENROL_CONFLICT', `authority.enrol: device key ${deviceKeyId} is enrolled with other details`);
        }
        return this.bundleFor(existing);
      }
      let m = this.merchant(req.merchantId);
      if (!m) {
        this.sql('INSERT INTO merchants(merchant_id, display_name, currency, currency_exponent, created_at_ms) VALUES (?, ?, ?, ?, ?)')
          .run(req.merchantId, req.displayName, req.currency, req.currencyExponent, this.now());
        this.addMerchantKey(req.merchantId);
        m = this.merchant(req.merchantId)!;
      } else if (m.currency !== req.currency) {
        throw new BoxError('ENROL_CONFLICT', `authority.enrol: merchant ${req.merchantId} settles in ${m.currency}, request says ${req.currency}`);
      }
      const tillId = m.next_till;
      this.sql('UPDATE merchants SET next_till = next_till + 1 WHERE merchant_id = ?').run(req.merchantId);
      const box = { device_key_id: deviceKeyId, device_public_key: req.devicePublicKey, till_id: tillId };
      this.sql(
          'INSERT INTO boxes(device_key_id, merchant_id, device_public_key, identity_public_key, till_id, own_card_serial, enrolled_at_ms) VALUES (?, ?, ?, ?, ?, 0, ?)',
        )
        .run(deviceKeyId, req.merchantId, req.devicePublicKey, req.identityPublicKey, tillId, this.now());
      this.signCardFor(this.merchant(req.merchantId)!, box, req.location);
      this.sql('INSERT INTO directory_entries(device_key_id, merchant_id, lat, lon, updated_at_ms) VALUES (?, ?, ?, ?, ?)')
        .run(deviceKeyId, req.merchantId, req.location?.lat ?? null, req.location?.lon ?? null, this.now());
      for (const c of new Set(req.cellIds)) this.sql('INSERT INTO directory_cells(cell_id, device_key_id) VALUES (?, ?)').run(c, deviceKeyId);
      for (const b of new Set(req.bssids)) this.sql('INSERT INTO directory_bssids(bssid, device_key_id) VALUES (?, ?)').run(b, deviceKeyId);
      bumpMeta(this.db, 'directory_version');
      return this.bundleFor(this.box(deviceKeyId)!);
    })();
  }

  /** The merchant's valid cards: of boxes not revoked, signed for a merchant key still held, not expired. */
  rosterCards(merchantId: string): string[] {
    const held = this.merchantKeys(merchantId)
      .slice(0, 2)
      .map((k) => k.key_id);
    const nowSec = Math.floor(this.now() / 1000);
    const rows = this.sql(
        `SELECT c.text, c.enc_key_id FROM cards c JOIN boxes b ON b.device_key_id = c.device_key_id
         WHERE c.merchant_id = ? AND b.revoked_at_ms IS NULL AND c.not_after_sec >= ? ORDER BY c.serial`,
      )
      .all(merchantId, nowSec) as { text: string; enc_key_id: string }[];
    return rows.filter((r) => held.includes(r.enc_key_id)).map((r) => r.text);
  }

  /** The current own card of every active box of the merchant (what the directory hands out). */
  currentCards(merchantId: string): string[] {
    const rows = this.sql(
        `SELECT c.text FROM boxes b JOIN cards c ON c.serial = b.own_card_serial
         WHERE b.merchant_id = ? AND b.revoked_at_ms IS NULL ORDER BY b.till_id`,
      )
      .all(merchantId) as { text: string }[];
    return rows.map((r) => r.text);
  }

  bundleFor(box: BoxRow): EnrolmentBundle {
    const keys = this.merchantKeys(box.merchant_id).slice(0, 2);
    const m = this.merchant(box.merchant_id)!;
    this.sql('UPDATE boxes SET delivered_roster_version = ? WHERE device_key_id = ?').run(m.roster_version, box.device_key_id);
    return {
      version: 1,
      merchantId: box.merchant_id,
      ownCardSerial: (this.box(box.device_key_id) ?? box).own_card_serial,
      cards: this.rosterCards(box.merchant_id),
      merchantKeys: keys.map((k) => ({
        keyId: k.key_id,
        package: toHex(wrapMerchantKey(this.p, fromHex(box.identity_public_key), box.merchant_id, fromHex(k.secret))),
      })),
      authorities: this.keys.entries('authority'),
      issuers: this.keys.entries('issuer'),
    };
  }

  /**
   * What GET /v1/box/updates hands the box: a renewed bundle when its card expires within
   * RENEW_BEFORE_DAYS or was signed for a merchant key that is no longer current, or when the
   * merchant's roster or keys changed since the box's last bundle (or since `haveRosterVersion`).
   */
  updatesFor(deviceKeyId: string, haveRosterVersion?: number): { bundle: EnrolmentBundle | null; rosterVersion: number } {
    return this.db.transaction(() => {
      const box = this.box(deviceKeyId);
      if (!box) throw new BoxError('UNKNOWN_BOX', `authority.updatesFor: unknown box ${deviceKeyId}`);
      const own = this.sql('SELECT not_after_sec, enc_key_id FROM cards WHERE serial = ?').get(box.own_card_serial) as
        | { not_after_sec: number; enc_key_id: string }
        | undefined;
      const current = this.merchantKeys(box.merchant_id)[0]!;
      const nowSec = Math.floor(this.now() / 1000);
      if (!own || own.not_after_sec - nowSec < RENEW_BEFORE_DAYS * 86400 || own.enc_key_id !== current.key_id) {
        const loc = this.sql('SELECT lat, lon FROM directory_entries WHERE device_key_id = ?').get(deviceKeyId) as
          | { lat: number | null; lon: number | null }
          | undefined;
        const location = loc && loc.lat !== null && loc.lon !== null ? { lat: loc.lat, lon: loc.lon } : undefined;
        this.signCardFor(this.merchant(box.merchant_id)!, box, location);
      }
      const m = this.merchant(box.merchant_id)!;
      const have = haveRosterVersion ?? this.box(deviceKeyId)!.delivered_roster_version;
      if (have >= m.roster_version) return { bundle: null, rosterVersion: m.roster_version };
      return { bundle: this.bundleFor(this.box(deviceKeyId)!), rosterVersion: m.roster_version };
    })();
  }

  /** New merchant key; boxes receive it (and renewed cards) with their next update. */
  rotateMerchantKey(merchantId: string): string {
    return this.db.transaction(() => {
      if (!this.merchant(merchantId)) throw new BoxError('UNKNOWN_MERCHANT', `authority.rotateMerchantKey: unknown merchant ${merchantId}`);
      this.addMerchantKey(merchantId);
      this.sql('UPDATE merchants SET roster_version = roster_version + 1 WHERE merchant_id = ?').run(merchantId);
      return this.merchantKeys(merchantId)[0]!.key_id;
    })();
  }

  revokeBox(deviceKeyId: string): boolean {
    return this.db.transaction(() => {
      const box = this.box(deviceKeyId);
      if (!box) return false;
      if (box.revoked_at_ms === null) {
        this.sql('UPDATE boxes SET revoked_at_ms = ? WHERE device_key_id = ?').run(this.now(), deviceKeyId);
        this.sql('UPDATE merchants SET roster_version = roster_version + 1 WHERE merchant_id = ?').run(box.merchant_id);
        bumpMeta(this.db, 'directory_version');
      }
      return true;
    })();
  }

  /** Any card ever issued, by serial (cached: cards never change). */
  cardBySerial(serial: number): { card: IdentityCard; hash: Uint8Array } | undefined {
    const hit = this.cardCache.get(serial);
    if (hit) return hit;
    const row = this.sql('SELECT text FROM cards WHERE serial = ?').get(serial) as { text: string } | undefined;
    const card = row ? cardFromText(row.text) : null;
    if (!card) return undefined;
    const entry = { card, hash: cardHash(this.p, card) };
    this.cardCache.set(serial, entry);
    return entry;
  }
}
