/**
 * Applying what the back end sends down: the revocation list (journal meta 'revocations', read by
 * the core through box.ts revocationView), key rollovers (key-rollover.ts), renewed enrolment
 * bundles, and late rejections.
 * The signatures of the list and the time are checked by the client before anything lands here.
 */
import type { Log } from '../../drivers/common/log.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { BoxError, isBoxError } from '../core/errors.ts';
import type { Journal } from '../journal/types.ts';
import { EnrolmentBundleSchema } from '../../backend/lib/enrolment.ts';
import type { Revocations, Updates } from './client.ts';
import { applyRollovers, type RolloverOutcome, type TrustedKeyStore } from './key-rollover.ts';

export const REVOCATIONS_META_KEY = 'revocations';

export type RevocationOutcome = 'stored' | 'same' | 'older';

/** Stores a verified list unless the box holds a newer one (never rolls back). */
export function storeRevocations(journal: Journal, rev: Revocations, log: Log): RevocationOutcome {
  const cur = journal.getMeta(REVOCATIONS_META_KEY) as { version?: unknown; issuedAtMs?: unknown } | undefined;
  const curVersion = typeof cur?.version === 'number' ? cur.version : -1;
  const curIssued = typeof cur?.issuedAtMs === 'number' ? cur.issuedAtMs : -1;
  if (rev.version < curVersion || (rev.version === curVersion && rev.issuedAtMs < curIssued)) {
    log.warn({ event: 'sync.revocations-older', got: rev.version, have: curVersion }, 'back end sent an older revocation list; kept ours');
    return 'older';
  }
  if (rev.version === curVersion && rev.issuedAtMs === curIssued) return 'same';
  journal.setMeta(REVOCATIONS_META_KEY, { version: rev.version, issuedAtMs: rev.issuedAtMs, wallets: [...rev.wallets].sort() });
  log.info({ event: 'sync.revocations', version: rev.version, issuedAtMs: rev.issuedAtMs, wallets: rev.wallets.length }, 'revocation list updated');
  return 'stored';
}

export interface BundleStore {
  /** The stored bundle text (enrolment.json), undefined before provisioning. */
  current(): string | undefined;
  /** Verifies the bundle against this box's keys (loadBoxIdentity) and stores it; throws BoxError. */
  importVerified(bundle: unknown): void;
  /** Keys the box trusts now (key id hex). */
  trusted(): { authorities: ReadonlySet<string>; issuers: ReadonlySet<string> };
  /**
   * Where verified key rollovers go (the stored bundle, then the running box's key maps). When
   * absent, `keyRollovers` are ignored (logged) and a bundle naming a new key stays refused.
   */
  keys?: TrustedKeyStore & { p: CryptoProvider };
}

export interface UpdatesOutcome {
  bundle: 'none' | 'same' | 'stored' | 'rejected';
  bundleError?: string;
  rejections: { applied: number; alreadyFinal: number; unknown: number };
  rollovers: RolloverOutcome;
}

/**
 * Order: late rejections, then key rollovers, then the bundle. A renewed bundle is stored only
 * when it verifies against this box's keys and names no authority or issuer key the box does not
 * trust by then: a new key needs its rollover statement signed by a key already trusted
 * (key-rollover.ts). The bundle takes effect at the next start; a new issuer key from a
 * rollover is used at once (the running box's issuer map is shared with the Acceptor).
 */
export function applyUpdates(journal: Journal, bundles: BundleStore, u: Updates, log: Log): UpdatesOutcome {
  const rejections = u.rejections.length === 0
    ? { applied: 0, alreadyFinal: 0, unknown: 0 }
    : journal.applyResults(u.rejections.map((r) => ({ debitId: r.debitId, status: 'rejected' as const, code: r.code })));
  if (rejections.applied > 0) {
    log.warn({ event: 'sync.late-rejections', count: u.rejections.length, ...rejections }, 'the acquirer rejected debits after upload');
  }
  let rollovers: RolloverOutcome = { applied: [], known: 0, refused: [] };
  const statements = u.keyRollovers ?? [];
  if (statements.length > 0) {
    if (bundles.keys) rollovers = applyRollovers(bundles.keys.p, bundles.keys, statements, log);
    else log.warn({ event: 'sync.rollovers-ignored', code: 'ROLLOVER_NO_STORE', count: statements.length }, 'key rollovers received but this box has no key store wired');
  }
  if (u.bundle === null || u.bundle === undefined) return { bundle: 'none', rejections, rollovers };
  try {
    const parsed = EnrolmentBundleSchema.safeParse(u.bundle);
    if (!parsed.success) throw new BoxError('UPDATE_BAD_BUNDLE', `applyUpdates: bundle invalid at ${parsed.error.issues[0]?.path.join('.') || '(root)'}`);
    const cur = bundles.current();
    if (cur !== undefined && sameJson(cur, parsed.data)) return { bundle: 'same', rejections, rollovers };
    const trusted = bundles.keys ? bundles.keys.trusted() : bundles.trusted();
    const newAuthority = parsed.data.authorities.find((a) => !trusted.authorities.has(a.keyId));
    const newIssuer = parsed.data.issuers.find((a) => !trusted.issuers.has(a.keyId));
    if (newAuthority || newIssuer) {
      throw new BoxError('UPDATE_UNTRUSTED_KEY', `applyUpdates: bundle names untrusted key ${(newAuthority ?? newIssuer)?.keyId}`);
    }
    bundles.importVerified(parsed.data);
    log.info({ event: 'sync.bundle-stored', merchantId: parsed.data.merchantId, ownCard: parsed.data.ownCardSerial }, 'renewed enrolment bundle stored; active at next start');
    return { bundle: 'stored', rejections, rollovers };
  } catch (e) {
    const code = isBoxError(e) ? e.code : 'UPDATE_FAILED';
    log.error({ event: 'sync.bundle-rejected', code }, `renewed bundle refused: ${(e as Error).message}`);
    return { bundle: 'rejected', bundleError: code, rejections, rollovers };
  }
}

function sameJson(text: string, value: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(text)) === JSON.stringify(value);
  } catch {
    return false;
  }
}
