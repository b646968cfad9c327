/** The core's revocation view over the list the sync side stores in journal meta 'revocations'. */
import type { RevocationView } from '../core/views.ts';
import type { Journal } from '../journal/types.ts';

export interface StoredRevocations {
  version: number;
  issuedAtMs: number;
  wallets: string[];
}

export function storedRevocations(journal: Journal): StoredRevocations | undefined {
  return journal.getMeta('revocations') as StoredRevocations | undefined;
}

/** Re-reads the stored list on each call and rebuilds the lookup set only when the list changed. */
export function revocationView(journal: Journal): () => RevocationView {
  let cachedJson = '';
  let view: RevocationView = { version: 0, issuedAtMs: 0, isRevoked: () => false };
  return () => {
    const raw = storedRevocations(journal);
    const json = raw ? `${raw.version}/${raw.issuedAtMs}/${raw.wallets.length}` : '';
    if (raw && json !== cachedJson) {
      const set = new Set(raw.wallets);
      view = { version: raw.version, issuedAtMs: raw.issuedAtMs, isRevoked: (w) => set.has(w) };
      cachedJson = json;
    }
    return view;
  };
}
