/**
 * Key-authority and issuer signing: identity cards for boxes, credentials for wallets.
 * Pure functions over the crypto provider; the back end and the CLI tools call them.
 */
import type { CryptoProvider, Ed25519Signer } from '../../device/core/crypto/provider.ts';
import { type CardLocation, type IdentityCard, signCard } from '../../device/core/protocol/card.ts';
import { METHOD } from '../../device/core/protocol/constants.ts';
import { type Credential, signCredential } from '../../device/core/protocol/credential.ts';
import { keyId, labeled } from '../../device/core/protocol/labels.ts';

export interface CardRequest {
  serial: number;
  tillId: number;
  merchantId: string;
  displayName: string;
  currency: string;
  currencyExponent?: number;
  /** The merchant-level X25519 public key that all tills of this merchant hold. */
  encPublicKey: Uint8Array;
  /** This box's Ed25519 device key. */
  devicePublicKey: Uint8Array;
  notBeforeSec: number;
  notAfterSec: number;
  location?: CardLocation;
}

export function issueCard(p: CryptoProvider, authority: Ed25519Signer, r: CardRequest): IdentityCard {
  const body = {
    serial: r.serial,
    tillId: r.tillId,
    merchantId: r.merchantId,
    displayName: r.displayName,
    currency: r.currency,
    currencyExponent: r.currencyExponent ?? 2,
    notBefore: r.notBeforeSec,
    notAfter: r.notAfterSec,
    encKeyId: keyId(p, r.encPublicKey),
    encPublicKey: r.encPublicKey,
    devicePublicKey: r.devicePublicKey,
    authorityKeyId: keyId(p, authority.publicKey),
    ...(r.location ? { location: r.location } : {}),
  };
  return signCard(body, (m) => authority.sign(m));
}

export interface CredentialRequest {
  walletPublicKey: Uint8Array;
  accountToken: Uint8Array;
  method?: number;
  currency: string;
  offlineLimit: number;
  notAfterSec: number;
}

export function issueCredential(p: CryptoProvider, issuer: Ed25519Signer, r: CredentialRequest): Credential {
  return signCredential(
    {
      issuerKeyId: keyId(p, issuer.publicKey),
      walletPublicKey: r.walletPublicKey,
      accountToken: r.accountToken,
      method: r.method ?? METHOD.account,
      currency: r.currency,
      offlineLimit: r.offlineLimit,
      notAfter: r.notAfterSec,
    },
    (m) => issuer.sign(m),
  );
}

/** Signs with a label on behalf of a signer that expects a raw message (documented in protocol.md). */
export function signWithLabel(signer: Ed25519Signer, label: string, content: Uint8Array): Uint8Array {
  return signer.sign(labeled(label, content));
}
