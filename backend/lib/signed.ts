/**
 * The byte strings the back end signs (docs/backend-api.md, "Signed documents"). Pure: the box,
 * the wallet and the tests verify with the same functions.
 *
 *   time         labeled("qrpay/v1/time", boxNonce 16 || u64be(timeMs))                   backend time key
 *   revocations  labeled("qrpay/v1/revocations", u32be(version) || u64be(issuedAtMs)
 *                        || sha256(utf8(sorted wallet keys joined by "\n")))             issuer key
 *   directory    labeled("qrpay/v1/directory", sha256(utf8(canonicalJson(entries)))
 *                        || u32be(version) || u64be(issuedAtMs))                         authority key
 *   rollover     labeled("qrpay/v1/key-rollover", role u8 (1 authority, 2 issuer, 3 time)
 *                        || newPublicKey 32 || u64be(issuedAtMs))                        the OLD key of that role
 *   box auth     labeled("qrpay/v1/box-auth", utf8(METHOD " " PATH "\n" nonce "\n") || sha256(body))  box device key
 */
import type { CryptoProvider } from '../../device/core/crypto/provider.ts';
import { concatBytes, i2osp, utf8 } from '../../device/core/encoding/bytes.ts';
import { LABEL } from '../../device/core/protocol/constants.ts';
import { labeled } from '../../device/core/protocol/labels.ts';

export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`u64be: expected a non-negative safe integer, got ${n}`);
  const out = new Uint8Array(8);
  out.set(i2osp(Math.floor(n / 2 ** 32), 4), 0);
  out.set(i2osp(n % 2 ** 32, 4), 4);
  return out;
}

export function timeMessage(boxNonce: Uint8Array, timeMs: number): Uint8Array {
  return labeled(LABEL.time, boxNonce, u64be(timeMs));
}

export function revocationsMessage(p: CryptoProvider, version: number, issuedAtMs: number, wallets: readonly string[]): Uint8Array {
  const sorted = [...wallets].sort();
  return labeled(LABEL.revocations, i2osp(version, 4), u64be(issuedAtMs), p.sha256(utf8.encode(sorted.join('\n'))));
}

/** JSON with object keys sorted at every level, no whitespace, undefined members left out. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x ?? null)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v as Record<string, unknown>)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function directoryMessage(p: CryptoProvider, entries: unknown, version: number, issuedAtMs: number): Uint8Array {
  return labeled(LABEL.directory, p.sha256(utf8.encode(canonicalJson(entries))), i2osp(version, 4), u64be(issuedAtMs));
}

export const KEY_ROLE = { authority: 1, issuer: 2, time: 3 } as const;
export type KeyRole = keyof typeof KEY_ROLE;

export function rolloverMessage(role: KeyRole, newPublicKey: Uint8Array, issuedAtMs: number): Uint8Array {
  return labeled(LABEL.keyRollover, Uint8Array.of(KEY_ROLE[role]), newPublicKey, u64be(issuedAtMs));
}

export function boxAuthMessage(p: CryptoProvider, method: string, pathWithQuery: string, nonce: string, body: Uint8Array): Uint8Array {
  return labeled(LABEL.auth, concatBytes(utf8.encode(`${method} ${pathWithQuery}\n${nonce}\n`), p.sha256(body)));
}
