/**
 * The box's NFC answer (docs/protocol.md section 7), signed by the device key over the phone's nonce:
 *
 *   magic "NA" | version 1 | card bytes16 | challenge 16 | sessionPublicKey 32 | chargeId str8
 *   | amount u32 | currency 3 | ttlSeconds u16 | deviceSignature 64
 *   signed = "qrpay/v1/nfc-answer" || 0x00 || phoneNonce 16 || (everything before deviceSignature)
 */
import type { CryptoProvider, Ed25519Signer } from '../crypto/provider.ts';
import { decodeCard, type IdentityCard } from './card.ts';
import { CHALLENGE_LENGTH, LABEL, PHONE_NONCE_LENGTH } from './constants.ts';
import { decodeWith, Writer } from './codec.ts';
import { labeled } from './labels.ts';
import { isValidChargeId } from './authorization.ts';

export interface NfcAnswerBody {
  card: IdentityCard;
  challenge: Uint8Array;
  sessionPublicKey: Uint8Array;
  chargeId: string;
  amount: number;
  currency: string;
  ttlSeconds: number;
}

export interface NfcAnswer extends NfcAnswerBody {
  deviceSignature: Uint8Array;
  signedBytes: Uint8Array;
  bytes: Uint8Array;
}

function encodeBody(a: NfcAnswerBody): Uint8Array {
  if (!isValidChargeId(a.chargeId)) throw new RangeError('encodeNfcAnswer: bad chargeId');
  return new Writer()
    .u8(0x4e)
    .u8(0x41)
    .u8(1)
    .bytes16(a.card.bytes)
    .bytes(a.challenge, CHALLENGE_LENGTH)
    .bytes(a.sessionPublicKey, 32)
    .ascii8(a.chargeId)
    .u32(a.amount)
    .ascii(a.currency, 3)
    .u16(a.ttlSeconds)
    .finish();
}

export function signNfcAnswer(a: NfcAnswerBody, phoneNonce: Uint8Array, device: Ed25519Signer): Uint8Array {
  if (phoneNonce.length !== PHONE_NONCE_LENGTH) throw new RangeError('signNfcAnswer: phone nonce must be 16 bytes');
  const body = encodeBody(a);
  return new Writer().bytes(body).bytes(device.sign(labeled(LABEL.nfcAnswer, phoneNonce, body)), 64).finish();
}

export function decodeNfcAnswer(bytes: Uint8Array): NfcAnswer | null {
  return decodeWith(bytes, (r) => {
    if (r.u8() !== 0x4e || r.u8() !== 0x41 || r.u8() !== 1) return null;
    const card = decodeCard(r.bytes16());
    if (!card) return null;
    const challenge = r.bytes(CHALLENGE_LENGTH);
    const sessionPublicKey = r.bytes(32);
    const chargeId = r.ascii8();
    if (!isValidChargeId(chargeId)) return null;
    const amount = r.u32();
    const currency = r.ascii(3);
    const ttlSeconds = r.u16();
    const signedLength = r.offset;
    const deviceSignature = r.bytes(64);
    return {
      card,
      challenge,
      sessionPublicKey,
      chargeId,
      amount,
      currency,
      ttlSeconds,
      deviceSignature,
      bytes,
      signedBytes: bytes.subarray(0, signedLength),
    };
  });
}

/** The phone's check: the answer is signed by the device key named on the card, over our nonce. */
export function verifyNfcAnswerSignature(p: CryptoProvider, a: NfcAnswer, phoneNonce: Uint8Array): boolean {
  return p.ed25519Verify(a.card.devicePublicKey, labeled(LABEL.nfcAnswer, phoneNonce, a.signedBytes), a.deviceSignature);
}
