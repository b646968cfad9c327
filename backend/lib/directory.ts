/**
 * Merchant directory: finds merchants by GPS position and radius (haversine), by cell id or by
 * Wi-Fi BSSID, and exports a snapshot signed by the key authority that a phone keeps offline.
 */
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import type { Authority } from './authority.ts';
import { type Db, getMeta } from './db.ts';
import type { KeyRing } from './keyring.ts';
import { directoryMessage } from './signed.ts';

export interface DirectoryMerchant {
  merchantId: string;
  displayName: string;
  cards: string[];
  distance_m?: number;
}

export interface SnapshotEntry {
  merchantId: string;
  cards: string[];
  location?: { lat: number; lon: number };
  cellIds: string[];
  bssids: string[];
}

export interface DirectorySnapshot {
  version: number;
  issuedAtMs: number;
  entries: SnapshotEntry[];
  keyId: string;
  signature: string;
}

const EARTH_RADIUS_M = 6_371_008.8;

export function haversineMeters(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export const MAX_RADIUS_M = 50_000;

export class Directory {
  constructor(
    private readonly p: CryptoProvider,
    private readonly db: Db,
    private readonly keys: KeyRing,
    private readonly authority: Authority,
    private readonly now: () => number,
  ) {}

  private displayName(merchantId: string): string {
    return (this.db.prepare('SELECT display_name FROM merchants WHERE merchant_id = ?').get(merchantId) as { display_name: string }).display_name;
  }

  private merchantsOf(ids: Iterable<string>, distances?: Map<string, number>): DirectoryMerchant[] {
    const out: DirectoryMerchant[] = [];
    for (const merchantId of new Set(ids)) {
      const cards = this.authority.currentCards(merchantId);
      if (cards.length === 0) continue;
      const m: DirectoryMerchant = { merchantId, displayName: this.displayName(merchantId), cards };
      const d = distances?.get(merchantId);
      if (d !== undefined) m.distance_m = Math.round(d);
      out.push(m);
    }
    return distances ? out.sort((a, b) => (a.distance_m ?? 0) - (b.distance_m ?? 0)) : out;
  }

  byLocation(lat: number, lon: number, radiusM: number): DirectoryMerchant[] {
    const dLat = radiusM / 111_000;
    const dLon = radiusM / (111_000 * Math.max(Math.cos((lat * Math.PI) / 180), 0.01));
    const rows = this.db
      .prepare(
        `SELECT d.merchant_id, d.lat, d.lon FROM directory_entries d JOIN boxes b ON b.device_key_id = d.device_key_id
         WHERE b.revoked_at_ms IS NULL AND d.lat BETWEEN ? AND ? AND d.lon BETWEEN ? AND ?`,
      )
      .all(lat - dLat, lat + dLat, lon - dLon, lon + dLon) as { merchant_id: string; lat: number; lon: number }[];
    const best = new Map<string, number>();
    for (const r of rows) {
      const d = haversineMeters({ lat, lon }, { lat: r.lat, lon: r.lon });
      if (d <= radiusM && d < (best.get(r.merchant_id) ?? Number.POSITIVE_INFINITY)) best.set(r.merchant_id, d);
    }
    return this.merchantsOf(best.keys(), best);
  }

  byCell(cellId: string): DirectoryMerchant[] {
    const rows = this.db
      .prepare('SELECT d.merchant_id FROM directory_cells c JOIN directory_entries d ON d.device_key_id = c.device_key_id WHERE c.cell_id = ?')
      .all(cellId) as { merchant_id: string }[];
    return this.merchantsOf(rows.map((r) => r.merchant_id));
  }

  byBssid(bssid: string): DirectoryMerchant[] {
    const rows = this.db
      .prepare('SELECT d.merchant_id FROM directory_bssids x JOIN directory_entries d ON d.device_key_id = x.device_key_id WHERE x.bssid = ?')
      .all(bssid.toLowerCase()) as { merchant_id: string }[];
    return this.merchantsOf(rows.map((r) => r.merchant_id));
  }

  snapshot(): DirectorySnapshot {
    const version = Number(getMeta(this.db, 'directory_version') ?? '0');
    const rows = this.db
      .prepare(
        `SELECT d.device_key_id, d.merchant_id, d.lat, d.lon FROM directory_entries d JOIN boxes b ON b.device_key_id = d.device_key_id
         WHERE b.revoked_at_ms IS NULL ORDER BY d.merchant_id, b.till_id`,
      )
      .all() as { device_key_id: string; merchant_id: string; lat: number | null; lon: number | null }[];
    const byMerchant = new Map<string, SnapshotEntry>();
    for (const r of rows) {
      let e = byMerchant.get(r.merchant_id);
      if (!e) {
        e = { merchantId: r.merchant_id, cards: this.authority.currentCards(r.merchant_id), cellIds: [], bssids: [] };
        byMerchant.set(r.merchant_id, e);
      }
      if (!e.location && r.lat !== null && r.lon !== null) e.location = { lat: r.lat, lon: r.lon };
      const cells = this.db.prepare('SELECT cell_id FROM directory_cells WHERE device_key_id = ?').all(r.device_key_id) as { cell_id: string }[];
      const bssids = this.db.prepare('SELECT bssid FROM directory_bssids WHERE device_key_id = ?').all(r.device_key_id) as { bssid: string }[];
      e.cellIds = [...new Set([...e.cellIds, ...cells.map((c) => c.cell_id)])].sort();
      e.bssids = [...new Set([...e.bssids, ...bssids.map((b) => b.bssid)])].sort();
    }
    const entries = [...byMerchant.values()];
    const issuedAtMs = this.now();
    const signer = this.keys.signer('authority');
    return {
      version,
      issuedAtMs,
      entries,
      keyId: this.keys.activeKeyId('authority'),
      signature: toHex(signer.sign(directoryMessage(this.p, entries, version, issuedAtMs))),
    };
  }
}

/** Phone side: verifies a snapshot against trusted authority keys; null when it does not verify. */
export function verifySnapshot(p: CryptoProvider, snap: DirectorySnapshot, authorities: ReadonlyMap<string, Uint8Array>, fromHexFn: (h: string) => Uint8Array): DirectorySnapshot | null {
  const key = authorities.get(snap.keyId);
  if (!key || typeof snap.signature !== 'string' || !/^[0-9a-f]{128}$/.test(snap.signature)) return null;
  return p.ed25519Verify(key, directoryMessage(p, snap.entries, snap.version, snap.issuedAtMs), fromHexFn(snap.signature)) ? snap : null;
}

/** Offline lookup in a verified snapshot, with the same rules as the server. */
export function lookupSnapshot(
  snap: DirectorySnapshot,
  q: { lat?: number; lon?: number; radiusM?: number; cell?: string; bssid?: string },
): { merchantId: string; cards: string[]; distance_m?: number }[] {
  const out: { merchantId: string; cards: string[]; distance_m?: number }[] = [];
  for (const e of snap.entries) {
    if (q.lat !== undefined && q.lon !== undefined) {
      if (!e.location) continue;
      const d = haversineMeters({ lat: q.lat, lon: q.lon }, e.location);
      if (d <= (q.radiusM ?? 200)) out.push({ merchantId: e.merchantId, cards: e.cards, distance_m: Math.round(d) });
    } else if (q.cell !== undefined ? e.cellIds.includes(q.cell) : q.bssid !== undefined && e.bssids.includes(q.bssid.toLowerCase())) {
      out.push({ merchantId: e.merchantId, cards: e.cards });
    }
  }
  return out.sort((a, b) => (a.distance_m ?? 0) - (b.distance_m ?? 0));
}
