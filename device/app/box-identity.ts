/**
 * Turns the provisioning bundle and the box's secrets into the views the core needs: merchant
 * decryption keys (unwrapped with the box identity key), the roster of this merchant's cards,
 * the device signer and the trusted issuer keys.
 */
import { type HpkeBaseReceiver, prepareBaseReceiver } from '../core/crypto/hpke.ts';
import type { CryptoProvider, Ed25519Signer, X25519PrivateKey } from '../core/crypto/provider.ts';
import { fromHex, toHex } from '../core/encoding/bytes.ts';
import { BoxError } from '../core/errors.ts';
import { cardFromText, cardHash, type IdentityCard, verifyCard } from '../core/protocol/card.ts';
import { keyId } from '../core/protocol/labels.ts';
import { unwrapMerchantKey } from '../core/protocol/merchant-key.ts';
import { envelopeInfo } from '../core/protocol/envelope.ts';
import type { RosterEntry } from '../core/views.ts';
import type { EnrolmentBundle } from '../../backend/lib/enrolment.ts';

export interface BoxSecrets {
  /** The box's own X25519 identity secrets: current first, then the previous one during rotation. */
  identity: Uint8Array[];
  deviceSeed: Uint8Array;
}

export interface BoxIdentity {
  merchantId: string;
  ownCard: IdentityCard;
  roster: Map<number, RosterEntry>;
  decryptionKeys: Map<string, X25519PrivateKey>;
  /** HPKE receivers with the key schedule context precomputed, by key id. */
  receivers: Map<string, HpkeBaseReceiver>;
  device: Ed25519Signer;
  deviceKeyId: Uint8Array;
  identityKeys: X25519PrivateKey[];
  authorities: Map<string, Uint8Array>;
  issuers: Map<string, Uint8Array>;
}

export function loadBoxIdentity(p: CryptoProvider, bundle: EnrolmentBundle, secrets: BoxSecrets, nowSec: number): BoxIdentity {
  const authorities = new Map(bundle.authorities.map((a) => [a.keyId, fromHex(a.publicKey)]));
  const issuers = new Map(bundle.issuers.map((a) => [a.keyId, fromHex(a.publicKey)]));
  const device = p.ed25519Signer(secrets.deviceSeed);
  const identityKeys = secrets.identity.map((s) => p.x25519PrivateKey(s));

  const roster = new Map<number, RosterEntry>();
  let ownCard: IdentityCard | undefined;
  for (const text of bundle.cards) {
    const card = cardFromText(text);
    if (!card) throw new BoxError('PROVISION_BAD_CARD', 'box identity: a card in the bundle does not parse');
    const check = verifyCard(p, card, authorities, toHex, { lowerSec: nowSec, upperSec: nowSec });
    if (check === 'unknown-authority' || check === 'bad-signature') {
      throw new BoxError('PROVISION_BAD_CARD', `box identity: card ${card.serial} fails the authority check (${check})`);
    }
    if (card.merchantId !== bundle.merchantId) throw new BoxError('PROVISION_BAD_CARD', `box identity: card ${card.serial} is for another merchant`);
    if (check === 'expired') continue;
    roster.set(card.serial, { card, hash: cardHash(p, card) });
    if (card.serial === bundle.ownCardSerial) ownCard = card;
  }
  if (!ownCard) throw new BoxError('PROVISION_NO_CARD', `box identity: own card ${bundle.ownCardSerial} is missing or expired; renew it`);
  if (toHex(ownCard.devicePublicKey) !== toHex(device.publicKey)) {
    throw new BoxError('PROVISION_KEY_MISMATCH', 'box identity: the card names another device key than this box holds');
  }

  const decryptionKeys = new Map<string, X25519PrivateKey>();
  for (const mk of bundle.merchantKeys) {
    let key: X25519PrivateKey | null = null;
    for (const id of identityKeys) {
      key = unwrapMerchantKey(p, id, bundle.merchantId, fromHex(mk.keyId), fromHex(mk.package));
      if (key) break;
    }
    if (!key) throw new BoxError('PROVISION_KEY_UNWRAP', `box identity: merchant key ${mk.keyId} is not wrapped to this box's identity key`);
    decryptionKeys.set(mk.keyId, key);
  }
  if (!decryptionKeys.has(toHex(ownCard.encKeyId))) {
    throw new BoxError('PROVISION_KEY_MISMATCH', 'box identity: no merchant key matches the own card');
  }
  const receivers = new Map([...decryptionKeys].map(([kid, key]) => [kid, prepareBaseReceiver(p, key, envelopeInfo(fromHex(kid)))]));
  return {
    receivers,
    merchantId: bundle.merchantId,
    ownCard,
    roster,
    decryptionKeys,
    device,
    deviceKeyId: keyId(p, device.publicKey),
    identityKeys,
    authorities,
    issuers,
  };
}
