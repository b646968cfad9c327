/**
 * Key rollover on the box (docs/backend-api.md "Key rollover"): the back end lists, in
 * `keyRollovers` of GET /v1/box/updates, statements by which an OLD authority or issuer key signs
 * its successor:
 *
 *   labeled("qrpay/v1/key-rollover", role u8 (1 authority, 2 issuer, 3 time) || newPublicKey 32 || u64be(issuedAtMs))
 *
 * The box adds a new key only when a key it ALREADY trusts for that role signed it. A statement
 * signed by an untrusted key, for a role the box does not take (time: the back-end key is pinned
 * in the sync config), or malformed, is refused with a coded log line and changes nothing.
 *
 * INVARIANTS
 * - A key is persisted (TrustedKeyStore.add writes the stored bundle) before the running box uses
 *   it; a failed write leaves the live view unchanged too.
 * - The back end sends its whole history in creation order, so chains (A signs B, B signs C) are
 *   applied in one pass; statements for keys already trusted are skipped without verifying.
 */
import { z } from 'zod';
import type { Log } from '../../drivers/common/log.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { fromHex, i2osp, toHex } from '../core/encoding/bytes.ts';
import { isBoxError } from '../core/errors.ts';
import { LABEL } from '../core/protocol/constants.ts';
import { keyId, labeled } from '../core/protocol/labels.ts';
import type { KeyStore } from '../keys/types.ts';
import { addTrustedKey } from '../app/provision.ts';

export type RolloverRole = 'authority' | 'issuer';

/** The role byte of the statement (the back end's KEY_ROLE). */
export const ROLLOVER_ROLE_BYTE = { authority: 1, issuer: 2, time: 3 } as const;

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));

/** One statement as sent by the back end (extra members are ignored). */
export const KeyRolloverSchema = z.object({
  role: z.string().min(1).max(32),
  oldKeyId: hex(8),
  newKeyId: hex(8),
  newPublicKey: hex(32),
  // u64be on the wire; i2osp takes up to 6 bytes of value, far beyond any real time.
  issuedAtMs: z.number().int().nonnegative().max(2 ** 48 - 1),
  signature: hex(64),
});
export type KeyRolloverStatement = z.infer<typeof KeyRolloverSchema>;

export interface TrustedKeys {
  authorities: ReadonlyMap<string, Uint8Array>;
  issuers: ReadonlyMap<string, Uint8Array>;
}

export interface TrustedKeyStore {
  /** The keys the box trusts now, by key id hex. */
  trusted(): TrustedKeys;
  /** Persists the key (stored bundle) and then adds it to the running box's view; throws BoxError. */
  add(role: RolloverRole, entry: { keyId: string; publicKey: Uint8Array }): void;
}

/** The signed bytes (same as backend/lib/signed.ts rolloverMessage). */
export function rolloverMessage(role: keyof typeof ROLLOVER_ROLE_BYTE, newPublicKey: Uint8Array, issuedAtMs: number): Uint8Array {
  return labeled(LABEL.keyRollover, Uint8Array.of(ROLLOVER_ROLE_BYTE[role]), newPublicKey, i2osp(issuedAtMs, 8));
}

export type RolloverVerdict =
  | { kind: 'accept'; role: RolloverRole; keyId: string; publicKey: Uint8Array }
  | { kind: 'known'; role: RolloverRole; keyId: string }
  | { kind: 'refuse'; code: RolloverRefusal; detail: string };

export type RolloverRefusal = 'ROLLOVER_MALFORMED' | 'ROLLOVER_UNKNOWN_ROLE' | 'ROLLOVER_UNTRUSTED_SIGNER' | 'ROLLOVER_BAD_SIGNATURE' | 'ROLLOVER_KEY_CONFLICT' | 'ROLLOVER_PERSIST_FAILED';

/** Checks one statement against the keys the box trusts now. Pure; never throws. */
export function checkRollover(p: CryptoProvider, trusted: TrustedKeys, raw: unknown): RolloverVerdict {
  const parsed = KeyRolloverSchema.safeParse(raw);
  if (!parsed.success) {
    return { kind: 'refuse', code: 'ROLLOVER_MALFORMED', detail: `statement invalid at ${parsed.error.issues[0]?.path.join('.') || '(root)'}` };
  }
  const s = parsed.data;
  if (s.role !== 'authority' && s.role !== 'issuer') {
    return { kind: 'refuse', code: 'ROLLOVER_UNKNOWN_ROLE', detail: `role ${JSON.stringify(s.role)} is not taken by the box` };
  }
  const role: RolloverRole = s.role;
  const keys = role === 'authority' ? trusted.authorities : trusted.issuers;
  const publicKey = fromHex(s.newPublicKey);
  if (toHex(keyId(p, publicKey)) !== s.newKeyId) {
    return { kind: 'refuse', code: 'ROLLOVER_MALFORMED', detail: `newKeyId ${s.newKeyId} is not the id of newPublicKey` };
  }
  const have = keys.get(s.newKeyId);
  if (have !== undefined) {
    if (toHex(have) === s.newPublicKey) return { kind: 'known', role, keyId: s.newKeyId };
    return { kind: 'refuse', code: 'ROLLOVER_KEY_CONFLICT', detail: `key id ${s.newKeyId} is trusted with another public key` };
  }
  const signer = keys.get(s.oldKeyId);
  if (signer === undefined) {
    return { kind: 'refuse', code: 'ROLLOVER_UNTRUSTED_SIGNER', detail: `${role} key ${s.newKeyId} is signed by ${s.oldKeyId}, which the box does not trust` };
  }
  if (!p.ed25519Verify(signer, rolloverMessage(role, publicKey, s.issuedAtMs), fromHex(s.signature))) {
    return { kind: 'refuse', code: 'ROLLOVER_BAD_SIGNATURE', detail: `${role} key ${s.newKeyId}: signature by ${s.oldKeyId} does not verify` };
  }
  return { kind: 'accept', role, keyId: s.newKeyId, publicKey };
}

export interface RolloverOutcome {
  applied: { role: RolloverRole; keyId: string }[];
  known: number;
  refused: { code: RolloverRefusal; keyId?: string }[];
}

/** Applies the statements in order; each refused one is logged with its code and changes nothing. */
export function applyRollovers(p: CryptoProvider, store: TrustedKeyStore, statements: readonly unknown[], log: Log): RolloverOutcome {
  const out: RolloverOutcome = { applied: [], known: 0, refused: [] };
  for (const raw of statements) {
    const v = checkRollover(p, store.trusted(), raw);
    const newKeyId = keyIdOf(raw);
    if (v.kind === 'known') {
      out.known++;
      continue;
    }
    if (v.kind === 'refuse') {
      out.refused.push({ code: v.code, ...(newKeyId ? { keyId: newKeyId } : {}) });
      log.error({ event: 'sync.rollover-refused', code: v.code, newKeyId, oldKeyId: oldKeyIdOf(raw) }, `key rollover refused: ${v.detail}`);
      continue;
    }
    try {
      store.add(v.role, { keyId: v.keyId, publicKey: v.publicKey });
    } catch (e) {
      out.refused.push({ code: 'ROLLOVER_PERSIST_FAILED', keyId: v.keyId });
      log.error({ event: 'sync.rollover-refused', code: 'ROLLOVER_PERSIST_FAILED', cause: isBoxError(e) ? e.code : undefined, newKeyId: v.keyId }, `key rollover not stored: ${(e as Error)?.message ?? String(e)}`);
      continue;
    }
    out.applied.push({ role: v.role, keyId: v.keyId });
    log.warn({ event: 'sync.rollover-applied', role: v.role, newKeyId: v.keyId, oldKeyId: oldKeyIdOf(raw) }, `new ${v.role} key trusted (signed by a trusted key)`);
  }
  return out;
}

function field(raw: unknown, name: string): string | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const v = (raw as Record<string, unknown>)[name];
  return typeof v === 'string' && /^[0-9a-f]{16}$/.test(v) ? v : undefined;
}
const keyIdOf = (raw: unknown) => field(raw, 'newKeyId');
const oldKeyIdOf = (raw: unknown) => field(raw, 'oldKeyId');

/**
 * The box's TrustedKeyStore: the stored enrolment bundle (key store public area, read by
 * loadProvisioned at the next start) and the running box's key maps, which the Acceptor
 * (issuers) and the sync client (revocation signatures) read live.
 */
export function bundleKeyStore(store: KeyStore, identity: { authorities: Map<string, Uint8Array>; issuers: Map<string, Uint8Array> }): TrustedKeyStore {
  return {
    trusted: () => ({ authorities: identity.authorities, issuers: identity.issuers }),
    add(role, entry) {
      addTrustedKey(store, role === 'authority' ? 'authorities' : 'issuers', { keyId: entry.keyId, publicKey: toHex(entry.publicKey) });
      (role === 'authority' ? identity.authorities : identity.issuers).set(entry.keyId, entry.publicKey);
    },
  };
}
