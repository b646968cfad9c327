/**
 * Applying what the back end sends down: the revocation list (journal meta 'revocations', read by
 * the core through box.ts revocationView), renewed enrolment bundles, and late rejections.
 * The signatures of the list and the time are checked by the client before anything lands here.
 */
import type { Log } from '../../drivers/common/log.ts';
import { BoxError, isBoxError } from '../core/errors.ts';
import type { Journal } from '../journal/types.ts';
import { EnrolmentBundleSchema } from '../../backend/lib/enrolment.ts';
import type { Revocations, Updates } from './client.ts';

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
}

export interface UpdatesOutcome {
  bundle: 'none' | 'same' | 'stored' | 'rejected';
  bundleError?: string;
  rejections: { applied: number; alreadyFinal: number; unknown: number };
}

/**
 * A renewed bundle is stored only when it verifies against this box's keys and names no
 * authority or issuer key the box does not already trust (a key rollover needs a document
 * signed by the old key; the v1 bundle carries none). It takes effect at the next start.
 */
export function applyUpdates(journal: Journal, bundles: BundleStore, u: Updates, log: Log): UpdatesOutcome {
  const rejections = u.rejections.length === 0
    ? { applied: 0, alreadyFinal: 0, unknown: 0 }
    : journal.applyResults(u.rejections.map((r) => ({ debitId: r.debitId, status: 'rejected' as const, code: r.code })));
  if (rejections.applied > 0) {
    log.warn({ event: 'sync.late-rejections', count: u.rejections.length, ...rejections }, 'the acquirer rejected debits after upload');
  }
  if (u.bundle === null || u.bundle === undefined) return { bundle: 'none', rejections };
  try {
    const parsed = EnrolmentBundleSchema.safeParse(u.bundle);
    if (!parsed.success) throw new BoxError('UPDATE_BAD_BUNDLE', `applyUpdates: bundle invalid at ${parsed.error.issues[0]?.path.join('.') || '(root)'}`);
    const cur = bundles.current();
    if (cur !== undefined && sameJson(cur, parsed.data)) return { bundle: 'same', rejections };
    const trusted = bundles.trusted();
    const newAuthority = parsed.data.authorities.find((a) => !trusted.authorities.has(a.keyId));
    const newIssuer = parsed.data.issuers.find((a) => !trusted.issuers.has(a.keyId));
    if (newAuthority || newIssuer) {
      throw new BoxError('UPDATE_UNTRUSTED_KEY', `applyUpdates: bundle names untrusted key ${(newAuthority ?? newIssuer)?.keyId}`);
    }
    bundles.importVerified(parsed.data);
    log.info({ event: 'sync.bundle-stored', merchantId: parsed.data.merchantId, ownCard: parsed.data.ownCardSerial }, 'renewed enrolment bundle stored; active at next start');
    return { bundle: 'stored', rejections };
  } catch (e) {
    const code = isBoxError(e) ? e.code : 'UPDATE_FAILED';
    log.error({ event: 'sync.bundle-rejected', code }, `renewed bundle refused: ${(e as Error).message}`);
    return { bundle: 'rejected', bundleError: code, rejections };
  }
}

function sameJson(text: string, value: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(text)) === JSON.stringify(value);
  } catch {
    return false;
  }
}
