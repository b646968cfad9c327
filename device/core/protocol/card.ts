/**
 * Merchant identity card (docs/protocol.md section 3): one per box (till), signed by the key authority.
 * All tills of one merchant carry the same merchant encryption key (see "Several tills").
 */
import type { CryptoProvider } from '../crypto/provider.ts';
import { base45Decode, base45Encode } from '../encoding/base45.ts';
import { CARD_PREFIX, KEY_ID_LENGTH, LABEL, MAX_DISPLAY_NAME_BYTES, MAX_MERCHANT_ID_LENGTH } from './constants.ts';
import { decodeWith, type Reader, Writer } from './codec.ts';
import { labeled } from './labels.ts';

export interface CardLocation {
  /** Degrees, stored as signed 1e-7 degree units. */
  lat: number;
  lon: number;
}

export interface CardBody {
  serial: number;
  tillId: number;
  merchantId: string;
  displayName: string;
  currency: string;
  /** Decimal places of the currency (2 for EUR, 0 for JPY). */
  currencyExponent: number;
  notBefore: number;
  notAfter: number;
  encKeyId: Uint8Array;
  encPublicKey: Uint8Array;
  devicePublicKey: Uint8Array;
  authorityKeyId: Uint8Array;
  location?: CardLocation;
}

export interface IdentityCard extends CardBody {
  signature: Uint8Array;
  /** The exact bytes, signature included (the card hash covers these). */
  bytes: Uint8Array;
  /** The signed part: everything before the signature. */
  signedBytes: Uint8Array;
}

const MAGIC_0 = 0x4d; // 'M'
const MAGIC_1 = 0x43; // 'C'
const MERCHANT_ID = /^[A-Z0-9][A-Z0-9._-]*$/;
const CURRENCY = /^[A-Z]{3}$/;

export function encodeCardBody(c: CardBody): Uint8Array {
  if (!MERCHANT_ID.test(c.merchantId) || c.merchantId.length > MAX_MERCHANT_ID_LENGTH) {
    throw new RangeError(`encodeCardBody: bad merchantId ${JSON.stringify(c.merchantId)}`);
  }
  if (!CURRENCY.test(c.currency)) throw new RangeError(`encodeCardBody: bad currency ${JSON.stringify(c.currency)}`);
  const name = new TextEncoder().encode(c.displayName);
  if (name.length < 1 || name.length > MAX_DISPLAY_NAME_BYTES) throw new RangeError('encodeCardBody: displayName must be 1..64 bytes');
  const w = new Writer()
    .u8(MAGIC_0)
    .u8(MAGIC_1)
    .u8(1)
    .u8(c.location ? 1 : 0)
    .u32(c.serial)
    .u16(c.tillId)
    .ascii8(c.merchantId)
    .bytes8(name)
    .ascii(c.currency, 3)
    .u8(c.currencyExponent)
    .u32(c.notBefore)
    .u32(c.notAfter)
    .bytes(c.encKeyId, KEY_ID_LENGTH)
    .bytes(c.encPublicKey, 32)
    .bytes(c.devicePublicKey, 32)
    .bytes(c.authorityKeyId, KEY_ID_LENGTH);
  if (c.location) w.i32(Math.round(c.location.lat * 1e7)).i32(Math.round(c.location.lon * 1e7));
  return w.finish();
}

function readCard(r: Reader, bytes: Uint8Array): IdentityCard | null {
  if (r.u8() !== MAGIC_0 || r.u8() !== MAGIC_1 || r.u8() !== 1) return null;
  const flags = r.u8();
  if (flags & ~1) return null;
  const serial = r.u32();
  const tillId = r.u16();
  const merchantId = r.ascii8();
  if (!MERCHANT_ID.test(merchantId) || merchantId.length > MAX_MERCHANT_ID_LENGTH) return null;
  const displayName = r.utf8str8();
  if (displayName.length === 0) return null;
  const currency = r.ascii(3);
  if (!CURRENCY.test(currency)) return null;
  const currencyExponent = r.u8();
  if (currencyExponent > 4) return null;
  const notBefore = r.u32();
  const notAfter = r.u32();
  const encKeyId = r.bytes(KEY_ID_LENGTH);
  const encPublicKey = r.bytes(32);
  const devicePublicKey = r.bytes(32);
  const authorityKeyId = r.bytes(KEY_ID_LENGTH);
  let location: CardLocation | undefined;
  if (flags & 1) {
    const lat = r.i32() / 1e7;
    const lon = r.i32() / 1e7;
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    location = { lat, lon };
  }
  const signedLength = r.offset;
  const signature = r.bytes(64);
  const card: IdentityCard = {
    serial,
    tillId,
    merchantId,
    displayName,
    currency,
    currencyExponent,
    notBefore,
    notAfter,
    encKeyId,
    encPublicKey,
    devicePublicKey,
    authorityKeyId,
    signature,
    bytes,
    signedBytes: bytes.subarray(0, signedLength),
  };
  if (location) card.location = location;
  return card;
}

/** Parses the binary form. Structure only: call verifyCard before trusting it. Never throws. */
export function decodeCard(bytes: Uint8Array): IdentityCard | null {
  if (!(bytes instanceof Uint8Array)) return null;
  return decodeWith(bytes, (r) => readCard(r, bytes));
}

export function cardToText(card: IdentityCard): string {
  return CARD_PREFIX + base45Encode(card.bytes);
}

export function cardFromText(text: string): IdentityCard | null {
  if (typeof text !== 'string' || !text.startsWith(CARD_PREFIX)) return null;
  const bytes = base45Decode(text.slice(CARD_PREFIX.length));
  return bytes ? decodeCard(bytes) : null;
}

export function signCard(body: CardBody, sign: (m: Uint8Array) => Uint8Array): IdentityCard {
  const signed = encodeCardBody(body);
  const signature = sign(labeled(LABEL.card, signed));
  const card = decodeCard(new Writer().bytes(signed).bytes(signature, 64).finish());
  if (!card) throw new Error('signCard: produced an undecodable card');
  return card;
}

export type CardCheck = 'ok' | 'unknown-authority' | 'bad-signature' | 'not-yet-valid' | 'expired';

/**
 * Checks the authority signature and validity window. `nowSec` bounds: a card is expired only
 * when provably so (notAfter < lower bound).
 */
export function verifyCard(
  p: CryptoProvider,
  card: IdentityCard,
  authorities: ReadonlyMap<string, Uint8Array>,
  keyIdHex: (id: Uint8Array) => string,
  clock?: { lowerSec: number; upperSec: number },
): CardCheck {
  const authority = authorities.get(keyIdHex(card.authorityKeyId));
  if (!authority) return 'unknown-authority';
  if (!p.ed25519Verify(authority, labeled(LABEL.card, card.signedBytes), card.signature)) return 'bad-signature';
  if (clock) {
    if (card.notAfter < clock.lowerSec) return 'expired';
    if (card.notBefore > clock.upperSec) return 'not-yet-valid';
  }
  return 'ok';
}

export function cardHash(p: CryptoProvider, card: IdentityCard): Uint8Array {
  return p.sha256(card.bytes);
}
