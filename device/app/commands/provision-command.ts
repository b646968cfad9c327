/**
 * `scanner provision`: generates the box's identity and device keys on the box (they never leave
 * it), then enrols online (POST <backend>/v1/enrol with the technician's one-time token) or writes
 * an enrolment request for offline signing and later imports the signed bundle.
 *
 *   scanner provision --merchant-id X --name "..." --currency EUR [--lat --lon --cell ID --bssid MAC]
 *                     (--backend URL --enrol-token T | --request-out req.json) [--rotate [--drop-previous]]
 *   scanner provision --import bundle.json [--backend URL]
 *
 * Online contract: the response is an EnrolmentBundle plus `backendKey: {keyId, publicKey}`, the
 * back end's signing key, pinned in public/backend.json with the URL.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CryptoProvider } from '../../core/crypto/provider.ts';
import { BoxError } from '../../core/errors.ts';
import { checkStateDirSafe } from '../../journal/storage-safety.ts';
import { FileKeyStore } from '../../keys/file-keystore.ts';
import type { KeyStore } from '../../keys/types.ts';
import { PublicKeyEntrySchema } from '../../../backend/lib/enrolment.ts';
import type { BoxConfig } from '../config.ts';
import type { BoxIdentity } from '../box-identity.ts';
import { enrolmentRequest, importBundle, type MerchantInfo } from '../provision.ts';
import { MERCHANT_INFO_NAME, writeBackendPin } from './backend-pin.ts';
import type { CommandIo } from './status-command.ts';
import { daysLeft } from '../control/status.ts';

export interface ProvisionOptions {
  merchantId?: string;
  name?: string;
  currency?: string;
  currencyExponent?: number;
  lat?: number;
  lon?: number;
  cells?: string[];
  bssids?: string[];
  backend?: string;
  enrolToken?: string;
  requestOut?: string;
  importFile?: string;
  rotate?: boolean;
  dropPrevious?: boolean;
}

export interface ProvisionDeps {
  provider: CryptoProvider;
  fetch?: typeof fetch;
  nowMs?: () => number;
}

interface StoredMerchant extends MerchantInfo {
  backendUrl?: string;
  requestedAtMs: number;
}

function openStore(cfg: BoxConfig): KeyStore {
  const stateDir = resolve(cfg.stateDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (!cfg.allowVolatileState) checkStateDirSafe(stateDir);
  return new FileKeyStore({ stateDir });
}

function merchantOf(o: ProvisionOptions, cfg: BoxConfig): MerchantInfo {
  if (!o.merchantId || !o.name) throw new BoxError('PROVISION_USAGE', 'provision: --merchant-id and --name are required');
  const currency = o.currency ?? cfg.currency;
  if ((o.lat === undefined) !== (o.lon === undefined)) throw new BoxError('PROVISION_USAGE', 'provision: give --lat and --lon together');
  return {
    merchantId: o.merchantId,
    displayName: o.name,
    currency,
    ...(o.currencyExponent !== undefined ? { currencyExponent: o.currencyExponent } : {}),
    ...(o.lat !== undefined && o.lon !== undefined ? { location: { lat: o.lat, lon: o.lon } } : {}),
    cellIds: o.cells ?? [],
    bssids: (o.bssids ?? []).map((b) => b.toLowerCase()),
  };
}

/** Splits the online answer into the bundle and the back-end key to pin. */
function splitEnrolmentAnswer(raw: unknown): { bundle: unknown; backendKey: { keyId: string; publicKey: string } | undefined } {
  if (raw === null || typeof raw !== 'object') throw new BoxError('PROVISION_BAD_BUNDLE', 'provision: enrolment answer is not a JSON object');
  const { backendKey, ...bundle } = raw as Record<string, unknown>;
  if (backendKey === undefined) return { bundle, backendKey: undefined };
  const k = PublicKeyEntrySchema.safeParse(backendKey);
  if (!k.success) throw new BoxError('PROVISION_BAD_BUNDLE', 'provision: backendKey in the enrolment answer is malformed');
  return { bundle, backendKey: k.data };
}

/** The sync service reads the back end from config.sync (root-owned): tell the technician what to add. */
function syncHint(url: string, key: { keyId: string; publicKey: string } | undefined): string {
  if (!key) return '';
  return `add to the config (e.g. /etc/qrpay/config.json), then restart the service:\n  "sync": ${JSON.stringify({ backendUrl: url, backendKey: key })}\n`;
}

function summary(identity: BoxIdentity, nowMs: number): string {
  const c = identity.ownCard;
  return `provisioned ${identity.merchantId} "${c.displayName}": card ${c.serial}, till ${c.tillId}, ${c.currency}, valid ${daysLeft(c.notAfter, nowMs)} more days\n`;
}

async function enrolOnline(url: string, token: string, request: unknown, doFetch: typeof fetch): Promise<unknown> {
  const endpoint = `${url.replace(/\/+$/, '')}/v1/enrol`;
  let res: Response;
  try {
    res = await doFetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new BoxError('PROVISION_BACKEND_UNREACHABLE', `provision: cannot reach ${endpoint}: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}; use --request-out for offline enrolment`, {
      retryable: true,
    });
  }
  const text = await res.text();
  if (!res.ok) throw new BoxError('PROVISION_ENROL_REFUSED', `provision: ${endpoint} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new BoxError('PROVISION_BAD_BUNDLE', `provision: ${endpoint} answered with something that is not JSON`);
  }
}

export async function provisionCommand(cfg: BoxConfig, o: ProvisionOptions, io: CommandIo, deps: ProvisionDeps): Promise<number> {
  const nowMs = (deps.nowMs ?? Date.now)();
  const nowSec = Math.floor(nowMs / 1000);
  const store = openStore(cfg);
  const p = deps.provider;

  if (o.importFile !== undefined) {
    const { bundle, backendKey } = splitEnrolmentAnswer(JSON.parse(readFileSync(o.importFile, 'utf8')));
    const identity = importBundle(store, p, bundle, nowSec);
    const stored = store.readPublic(MERCHANT_INFO_NAME);
    const backendUrl = o.backend ?? (stored ? (JSON.parse(stored) as StoredMerchant).backendUrl : undefined);
    if (backendUrl) writeBackendPin(store, { url: backendUrl, ...(backendKey ?? {}), pinnedAtMs: nowMs });
    io.out(summary(identity, nowMs));
    if (backendUrl && !cfg.sync) io.err(syncHint(backendUrl, backendKey));
    return 0;
  }

  const merchant = merchantOf(o, cfg);
  const online = o.backend !== undefined && o.enrolToken !== undefined;
  if (!online && o.requestOut === undefined) throw new BoxError('PROVISION_USAGE', 'provision: give --backend URL --enrol-token T (online) or --request-out file (offline)');
  if (store.hasKeys()) {
    if (!o.rotate) {
      throw new BoxError('KEY_EXISTS', `provision: this box already has keys (${store.description}); pass --rotate to replace the identity key (the device key stays)`);
    }
    if (o.dropPrevious) store.dropPreviousIdentity();
    store.rotateIdentity();
    io.err('identity key rotated; the previous one is kept to decrypt codes already issued to the old card\n');
  }
  const request = enrolmentRequest(store, p, merchant);
  const stored: StoredMerchant = { ...merchant, ...(o.backend ? { backendUrl: o.backend } : {}), requestedAtMs: nowMs };
  store.writePublic(MERCHANT_INFO_NAME, `${JSON.stringify(stored, null, 2)}\n`);

  if (online) {
    const answer = await enrolOnline(o.backend!, o.enrolToken!, request, deps.fetch ?? fetch);
    const { bundle, backendKey } = splitEnrolmentAnswer(answer);
    const identity = importBundle(store, p, bundle, nowSec);
    writeBackendPin(store, { url: o.backend!, ...(backendKey ?? {}), pinnedAtMs: nowMs });
    io.out(summary(identity, nowMs));
    if (!cfg.sync) io.err(syncHint(o.backend!, backendKey));
    return 0;
  }
  writeFileSync(o.requestOut!, `${JSON.stringify(request, null, 2)}\n`, { mode: 0o644 });
  io.out(`enrolment request written to ${o.requestOut}; have it signed, then run: scanner provision --import <bundle.json>\n`);
  return 0;
}
