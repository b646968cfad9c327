/**
 * The byte strings signed over the box <-> back-end HTTP API (docs/backend-api.md, contract v1).
 * Pure builders: the box signs `authMessage` and verifies the other two.
 */
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { concatBytes, i2osp, utf8 } from '../core/encoding/bytes.ts';
import { LABEL } from '../core/protocol/constants.ts';
import { labeled } from '../core/protocol/labels.ts';

/** labeled("qrpay/v1/box-auth", utf8(METHOD + " " + PATH_WITH_QUERY + "\n" + nonce + "\n") || sha256(body)). */
export function authMessage(p: CryptoProvider, method: string, pathWithQuery: string, nonce: string, body: Uint8Array): Uint8Array {
  return labeled(LABEL.auth, utf8.encode(`${method} ${pathWithQuery}\n${nonce}\n`), p.sha256(body));
}

/** labeled("qrpay/v1/time", boxNonce(16) || u64be(timeMs)). */
export function timeMessage(boxNonce: Uint8Array, timeMs: number): Uint8Array {
  return labeled(LABEL.time, boxNonce, i2osp(timeMs, 8));
}

/** labeled("qrpay/v1/revocations", u32be(version) || u64be(issuedAtMs) || sha256(utf8(sorted wallets joined by "\n"))). */
export function revocationsMessage(p: CryptoProvider, version: number, issuedAtMs: number, wallets: readonly string[]): Uint8Array {
  const sorted = [...wallets].sort();
  return labeled(LABEL.revocations, concatBytes(i2osp(version, 4), i2osp(issuedAtMs, 8), p.sha256(utf8.encode(sorted.join('\n')))));
}
