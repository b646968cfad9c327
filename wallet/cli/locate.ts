/**
 * The location flow of the reference wallet: find the merchant from the phone's GPS position,
 * cell id or Wi-Fi BSSID, online (GET /v1/directory/lookup) or from a signed directory snapshot
 * held offline (checked against the authorities the wallet trusts), and return its card.
 *
 *   npm run wallet -- locate --lat 52.52 --lon 13.405 [--radius 200] | --cell 262-01-1a2b-c3d4 | --bssid aa:bb:..
 *                    [--backend http://127.0.0.1:8080 | --snapshot snapshot.json] [--pay 12.50 [--send]]
 */
import { readFileSync } from 'node:fs';
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { fromHex } from '../../device/core/encoding/bytes.ts';
import { cardFromText, type IdentityCard } from '../../device/core/protocol/card.ts';
import { type DirectorySnapshot, lookupSnapshot, verifySnapshot } from '../../backend/lib/directory.ts';

export interface LocateQuery {
  lat?: number;
  lon?: number;
  radiusM?: number;
  cell?: string;
  bssid?: string;
}

export interface Located {
  merchantId: string;
  card: IdentityCard;
  distance_m?: number;
  source: 'backend' | 'snapshot';
}

export function parseLocateQuery(v: { lat?: string; lon?: string; radius?: string; cell?: string; bssid?: string }): LocateQuery {
  if (v.lat !== undefined || v.lon !== undefined) {
    const lat = Number(v.lat);
    const lon = Number(v.lon);
    const radiusM = v.radius === undefined ? 200 : Number(v.radius);
    if (!Number.isFinite(lat) || Math.abs(lat) > 90 || !Number.isFinite(lon) || Math.abs(lon) > 180) {
      throw new Error(`wallet locate: --lat/--lon must be degrees, got ${JSON.stringify(v.lat)}, ${JSON.stringify(v.lon)}`);
    }
    if (!Number.isFinite(radiusM) || radiusM <= 0 || radiusM > 50_000) throw new Error(`wallet locate: --radius must be 1..50000 m, got ${JSON.stringify(v.radius)}`);
    return { lat, lon, radiusM };
  }
  if (v.cell) return { cell: v.cell };
  if (v.bssid) return { bssid: v.bssid.toLowerCase() };
  throw new Error('wallet locate: give --lat and --lon, --cell or --bssid');
}

function firstCard(cards: string[]): IdentityCard | null {
  for (const t of cards) {
    const c = cardFromText(t);
    if (c) return c;
  }
  return null;
}

/** Online lookup; the nearest (or first) merchant with a readable card. */
export async function locateOnline(backendUrl: string, q: LocateQuery): Promise<Located | null> {
  const params = new URLSearchParams();
  if (q.lat !== undefined && q.lon !== undefined) {
    params.set('lat', String(q.lat));
    params.set('lon', String(q.lon));
    params.set('radius_m', String(q.radiusM ?? 200));
  } else if (q.cell) params.set('cell', q.cell);
  else if (q.bssid) params.set('bssid', q.bssid);
  const r = await fetch(`${backendUrl.replace(/\/$/, '')}/v1/directory/lookup?${params}`);
  const body = (await r.json()) as { merchants?: { merchantId: string; cards: string[]; distance_m?: number }[]; error?: string };
  if (!r.ok || !body.merchants) throw new Error(`wallet locate: directory answered ${r.status} ${body.error ?? ''}`.trim());
  for (const m of body.merchants) {
    const card = firstCard(m.cards);
    if (card) return { merchantId: m.merchantId, card, source: 'backend', ...(m.distance_m !== undefined ? { distance_m: m.distance_m } : {}) };
  }
  return null;
}

/** Offline lookup in a snapshot file; refuses a snapshot no trusted authority signed. */
export function locateOffline(p: CryptoProvider, snapshotPath: string, authorities: ReadonlyMap<string, Uint8Array>, q: LocateQuery): Located | null {
  const snap = verifySnapshot(p, JSON.parse(readFileSync(snapshotPath, 'utf8')) as DirectorySnapshot, authorities, fromHex);
  if (!snap) throw new Error(`wallet locate: ${snapshotPath} is not signed by an authority this wallet trusts`);
  for (const m of lookupSnapshot(snap, q)) {
    const card = firstCard(m.cards);
    if (card) return { merchantId: m.merchantId, card, source: 'snapshot', ...(m.distance_m !== undefined ? { distance_m: m.distance_m } : {}) };
  }
  return null;
}
