/**
 * Box-side provisioning: keys are generated on the box and never leave it; the authority answers
 * an enrolment request with a bundle (cards + merchant key wrapped to this box), stored as public
 * material in the key store.
 */
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { toHex } from '../core/encoding/bytes.ts';
import { BoxError } from '../core/errors.ts';
import type { KeyStore } from '../keys/types.ts';
import { unlockKeys } from '../keys/unlock.ts';
import { type EnrolmentBundle, EnrolmentBundleSchema, type EnrolmentRequest } from '../../backend/lib/enrolment.ts';
import { type BoxIdentity, loadBoxIdentity } from './box-identity.ts';

export const BUNDLE_NAME = 'enrolment.json';

export interface MerchantInfo {
  merchantId: string;
  displayName: string;
  currency: string;
  currencyExponent?: number;
  location?: { lat: number; lon: number };
  cellIds?: string[];
  bssids?: string[];
}

/** Generates the box keys when absent (never overwrites) and returns the enrolment request. */
export function enrolmentRequest(store: KeyStore, p: CryptoProvider, m: MerchantInfo): EnrolmentRequest {
  if (!store.hasKeys()) store.generate();
  const keys = unlockKeys(store, p);
  return {
    version: 1,
    merchantId: m.merchantId,
    displayName: m.displayName,
    currency: m.currency,
    currencyExponent: m.currencyExponent ?? 2,
    identityPublicKey: toHex(keys.identity.publicKey),
    devicePublicKey: toHex(keys.device.publicKey),
    ...(m.location ? { location: m.location } : {}),
    cellIds: m.cellIds ?? [],
    bssids: m.bssids ?? [],
  };
}

function secretsOf(store: KeyStore) {
  const ids = store.loadIdentity();
  return {
    identity: [ids.current.bytes, ...(ids.previous ? [ids.previous.bytes] : [])],
    deviceSeed: store.loadDeviceKey().bytes,
  };
}

/** Checks the bundle against this box's keys, then stores it. */
export function importBundle(store: KeyStore, p: CryptoProvider, raw: unknown, nowSec: number): BoxIdentity {
  const parsed = EnrolmentBundleSchema.safeParse(raw);
  if (!parsed.success) throw new BoxError('PROVISION_BAD_BUNDLE', `provision: enrolment bundle invalid at ${parsed.error.issues[0]?.path.join('.') ?? '?'}`);
  const identity = loadBoxIdentity(p, parsed.data, secretsOf(store), nowSec);
  store.writePublic(BUNDLE_NAME, `${JSON.stringify(parsed.data, null, 2)}\n`);
  return identity;
}

/**
 * Appends a key to the stored bundle's `authorities` or `issuers` (a verified key rollover), so
 * loadProvisioned trusts it from the next start. Returns false when it was already listed.
 * The caller checked the rollover statement; the cards are not re-verified here.
 */
export function addTrustedKey(store: KeyStore, list: 'authorities' | 'issuers', entry: { keyId: string; publicKey: string }): boolean {
  const text = store.readPublic(BUNDLE_NAME);
  if (text === undefined) throw new BoxError('NOT_PROVISIONED', 'provision.addTrustedKey: no stored enrolment bundle');
  const parsed = EnrolmentBundleSchema.safeParse(parseJsonOrUndefined(text));
  if (!parsed.success) throw new BoxError('PROVISION_BAD_BUNDLE', 'provision.addTrustedKey: stored enrolment bundle is invalid');
  const bundle = parsed.data;
  if (bundle[list].some((k) => k.keyId === entry.keyId)) return false;
  const next: EnrolmentBundle = { ...bundle, [list]: [...bundle[list], { keyId: entry.keyId, publicKey: entry.publicKey }] };
  const checked = EnrolmentBundleSchema.safeParse(next);
  if (!checked.success) throw new BoxError('PROVISION_BAD_BUNDLE', `provision.addTrustedKey: key ${entry.keyId} does not fit the bundle schema`);
  store.writePublic(BUNDLE_NAME, `${JSON.stringify(checked.data, null, 2)}\n`);
  return true;
}

export function isProvisioned(store: KeyStore): boolean {
  return store.hasKeys() && store.readPublic(BUNDLE_NAME) !== undefined;
}

export function loadProvisioned(store: KeyStore, p: CryptoProvider, nowSec: number): { identity: BoxIdentity; bundle: EnrolmentBundle } {
  const text = store.readPublic(BUNDLE_NAME);
  if (text === undefined) throw new BoxError('NOT_PROVISIONED', 'box: not provisioned yet (run `scanner provision`, or use the embedded default config for the demo)');
  const parsed = EnrolmentBundleSchema.safeParse(parseJsonOrUndefined(text));
  if (!parsed.success) throw new BoxError('PROVISION_BAD_BUNDLE', 'box: stored enrolment bundle is invalid');
  return { identity: loadBoxIdentity(p, parsed.data, secretsOf(store), nowSec), bundle: parsed.data };
}

/** JSON.parse that gives undefined for text that is not JSON (a torn or hand-edited file), so the schema check reports it. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
