/**
 * Wallet credential (docs/protocol.md section 4): the issuer's statement that a wallet key may pay
 * from an account token, in one currency, up to an offline limit, until an expiry.
 */
import type { CryptoProvider } from '../crypto/provider.ts';
import { ACCOUNT_TOKEN_LENGTH, KEY_ID_LENGTH, LABEL } from './constants.ts';
import { decodeWith, type Reader, Writer } from './codec.ts';
import { labeled } from './labels.ts';

export interface CredentialBody {
  issuerKeyId: Uint8Array;
  walletPublicKey: Uint8Array;
  /** Opaque issuer token for the account; never a real account or card number. */
  accountToken: Uint8Array;
  method: number;
  currency: string;
  /** Most this credential may spend at one box between two syncs of that box, in minor units. */
  offlineLimit: number;
  notAfter: number;
}

export interface Credential extends CredentialBody {
  signature: Uint8Array;
  bytes: Uint8Array;
  signedBytes: Uint8Array;
}

export const CREDENTIAL_LENGTH = 3 + KEY_ID_LENGTH + 32 + ACCOUNT_TOKEN_LENGTH + 1 + 3 + 4 + 4 + 64;
const MAGIC_0 = 0x57; // 'W'
const MAGIC_1 = 0x43; // 'C'

export function encodeCredentialBody(c: CredentialBody): Uint8Array {
  if (!/^[A-Z]{3}$/.test(c.currency)) throw new RangeError(`encodeCredentialBody: bad currency ${JSON.stringify(c.currency)}`);
  return new Writer()
    .u8(MAGIC_0)
    .u8(MAGIC_1)
    .u8(1)
    .bytes(c.issuerKeyId, KEY_ID_LENGTH)
    .bytes(c.walletPublicKey, 32)
    .bytes(c.accountToken, ACCOUNT_TOKEN_LENGTH)
    .u8(c.method)
    .ascii(c.currency, 3)
    .u32(c.offlineLimit)
    .u32(c.notAfter)
    .finish();
}

/** Reads exactly CREDENTIAL_LENGTH bytes from r. Returns null on a structural error. */
export function readCredential(r: Reader): Credential | null {
  const all = r.bytes(CREDENTIAL_LENGTH);
  return decodeWith(all, (c) => {
    if (c.u8() !== MAGIC_0 || c.u8() !== MAGIC_1 || c.u8() !== 1) return null;
    const issuerKeyId = c.bytes(KEY_ID_LENGTH);
    const walletPublicKey = c.bytes(32);
    const accountToken = c.bytes(ACCOUNT_TOKEN_LENGTH);
    const method = c.u8();
    if (method < 1 || method > 3) return null;
    const currency = c.ascii(3);
    if (!/^[A-Z]{3}$/.test(currency)) return null;
    const offlineLimit = c.u32();
    const notAfter = c.u32();
    const signature = c.bytes(64);
    return {
      issuerKeyId,
      walletPublicKey,
      accountToken,
      method,
      currency,
      offlineLimit,
      notAfter,
      signature,
      bytes: all,
      signedBytes: all.subarray(0, CREDENTIAL_LENGTH - 64),
    } satisfies Credential;
  });
}

export function decodeCredential(bytes: Uint8Array): Credential | null {
  return decodeWith(bytes, readCredential);
}

export function signCredential(body: CredentialBody, sign: (m: Uint8Array) => Uint8Array): Credential {
  const signed = encodeCredentialBody(body);
  const cred = decodeCredential(new Writer().bytes(signed).bytes(sign(labeled(LABEL.credential, signed)), 64).finish());
  if (!cred) throw new Error('signCredential: produced an undecodable credential');
  return cred;
}

export function verifyCredentialSignature(p: CryptoProvider, issuerPublicKey: Uint8Array, c: Credential): boolean {
  return p.ed25519Verify(issuerPublicKey, labeled(LABEL.credential, c.signedBytes), c.signature);
}

/** What a log or receipt may show of an account token: its last 4 hex digits. */
export function maskToken(token: Uint8Array): string {
  const last = token.subarray(token.length - 2);
  return `…${Array.from(last, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
