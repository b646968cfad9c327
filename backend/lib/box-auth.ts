/**
 * Box authentication (docs/backend-api.md, "Box authentication"): the box signs every request
 * with its device key over the method, path, a single-use server nonce and the body hash.
 *
 * INVARIANTS: a nonce is deleted by the request that uses it (DELETE ... changes = 1), inside
 * the same synchronous call as the check, so two requests can never both use it.
 */
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { ApiError } from './api-error.ts';
import type { Authority, BoxRow } from './authority.ts';
import { type Db, statementCache } from './db.ts';
import { boxAuthMessage } from './signed.ts';

export const NONCE_TTL_MS = 60_000;
export const MAX_OUTSTANDING_NONCES = 10_000;

export interface AuthHeaders {
  keyId: string | undefined;
  nonce: string | undefined;
  signature: string | undefined;
}

export class BoxAuth {
  /** Compiled once, reused (see statementCache). */
  private readonly sql: ReturnType<typeof statementCache>;

  constructor(
    private readonly p: CryptoProvider,
    db: Db,
    private readonly authority: Authority,
    private readonly now: () => number,
  ) {
    this.sql = statementCache(db);
  }

  issueNonce(): string {
    const now = this.now();
    this.sql('DELETE FROM nonces WHERE created_at_ms < ?').run(now - NONCE_TTL_MS);
    const outstanding = (this.sql('SELECT COUNT(*) AS n FROM nonces').get() as { n: number }).n;
    if (outstanding >= MAX_OUTSTANDING_NONCES) throw new ApiError(503, 'BUSY', 'boxAuth.issueNonce: too many outstanding nonces');
    const nonce = toHex(this.p.randomBytes(16));
    this.sql('INSERT INTO nonces(nonce, created_at_ms) VALUES (?, ?)').run(nonce, now);
    return nonce;
  }

  /** Returns the authenticated box, or throws the contract's 401/403 answer. */
  authenticate(method: string, pathWithQuery: string, h: AuthHeaders, body: Uint8Array): BoxRow {
    if (!h.keyId || !/^[0-9a-f]{16}$/.test(h.keyId)) throw new ApiError(401, 'UNKNOWN_BOX', 'boxAuth: missing or malformed X-Box-Key-Id');
    const box = this.authority.box(h.keyId);
    if (!box) throw new ApiError(401, 'UNKNOWN_BOX', `boxAuth: unknown box ${h.keyId}`);
    if (box.revoked_at_ms !== null) throw new ApiError(403, 'BOX_REVOKED', `boxAuth: box ${h.keyId} is revoked`);
    if (!h.nonce || !/^[0-9a-f]{32}$/.test(h.nonce)) throw new ApiError(401, 'BAD_NONCE', 'boxAuth: missing or malformed X-Box-Nonce');
    if (!h.signature || !/^[0-9a-f]{128}$/.test(h.signature)) throw new ApiError(401, 'BAD_AUTH', 'boxAuth: missing or malformed X-Box-Signature');
    const message = boxAuthMessage(this.p, method, pathWithQuery, h.nonce, body);
    if (!this.p.ed25519Verify(fromHex(box.device_public_key), message, fromHex(h.signature))) {
      throw new ApiError(401, 'BAD_AUTH', 'boxAuth: signature does not verify');
    }
    const used = this.sql('DELETE FROM nonces WHERE nonce = ? AND created_at_ms >= ?').run(h.nonce, this.now() - NONCE_TTL_MS);
    if (used.changes !== 1) throw new ApiError(401, 'BAD_NONCE', 'boxAuth: nonce unknown, expired or already used');
    return box;
  }
}
