/**
 * Payment authorization: the HPKE plaintext (docs/protocol.md section 5).
 *
 *   flow u8 | cardSerial u32 | credential (135) | amount u32 | currency 3 | counter u32 | timestamp u32
 *   | [flow = nfc: challenge 16 | chargeId str8] | walletSignature 64
 *
 * The wallet signs (label "qrpay/v1/pay"):
 *   cardHash 32 | header 45 | credentialHash 32 | amount u32 | currency 3 | counter u32 | timestamp u32 | flow u8
 *   | [flow = nfc: challenge 16 | sessionPublicKey 32 | chargeId str8]
 */
import type { CryptoProvider } from '../crypto/provider.ts';
import { CHALLENGE_LENGTH, FLOW, type Flow, LABEL, MAX_CHARGE_ID_LENGTH } from './constants.ts';
import { decodeWith, Writer } from './codec.ts';
import { type Credential, readCredential } from './credential.ts';
import { labelPrefix } from './labels.ts';

export interface NfcBinding {
  challenge: Uint8Array;
  chargeId: string;
}

export interface AuthorizationBody {
  flow: Flow;
  cardSerial: number;
  credential: Credential;
  amount: number;
  currency: string;
  counter: number;
  timestamp: number;
  nfc?: NfcBinding;
}

export interface Authorization extends AuthorizationBody {
  walletSignature: Uint8Array;
  bytes: Uint8Array;
}

const CHARGE_ID = /^[\x21-\x7e]{1,32}$/;

export function isValidChargeId(id: string): boolean {
  return id.length <= MAX_CHARGE_ID_LENGTH && CHARGE_ID.test(id);
}

function writeBody(w: Writer, a: AuthorizationBody): void {
  w.u8(a.flow).u32(a.cardSerial).bytes(a.credential.bytes).u32(a.amount).ascii(a.currency, 3).u32(a.counter).u32(a.timestamp);
  if (a.flow === FLOW.nfc) {
    if (!a.nfc || !isValidChargeId(a.nfc.chargeId)) throw new RangeError('encodeAuthorization: nfc flow needs a challenge and a valid chargeId');
    w.bytes(a.nfc.challenge, CHALLENGE_LENGTH).ascii8(a.nfc.chargeId);
  }
}

export function encodeAuthorization(a: AuthorizationBody, walletSignature: Uint8Array): Uint8Array {
  const w = new Writer();
  writeBody(w, a);
  return w.bytes(walletSignature, 64).finish();
}

export function decodeAuthorization(bytes: Uint8Array): Authorization | null {
  return decodeWith(bytes, (r) => {
    const flow = r.u8();
    if (flow !== FLOW.static && flow !== FLOW.nfc) return null;
    const cardSerial = r.u32();
    const credential = readCredential(r);
    if (!credential) return null;
    const amount = r.u32();
    const currency = r.ascii(3);
    if (!/^[A-Z]{3}$/.test(currency)) return null;
    const counter = r.u32();
    const timestamp = r.u32();
    const a: Authorization = { flow, cardSerial, credential, amount, currency, counter, timestamp, walletSignature: r.bytes(0), bytes };
    if (flow === FLOW.nfc) {
      const challenge = r.bytes(CHALLENGE_LENGTH);
      const chargeId = r.ascii8();
      if (!isValidChargeId(chargeId)) return null;
      a.nfc = { challenge, chargeId };
    }
    a.walletSignature = r.bytes(64);
    return a;
  });
}

/** The exact byte string the wallet signs. */
export function paymentSignedContent(
  p: CryptoProvider,
  a: AuthorizationBody,
  cardHash: Uint8Array,
  header: Uint8Array,
  sessionPublicKey?: Uint8Array,
): Uint8Array {
  const w = new Writer()
    .bytes(labelPrefix(LABEL.pay))
    .bytes(cardHash, 32)
    .bytes(header)
    .bytes(p.sha256(a.credential.bytes), 32)
    .u32(a.amount)
    .ascii(a.currency, 3)
    .u32(a.counter)
    .u32(a.timestamp)
    .u8(a.flow);
  if (a.flow === FLOW.nfc) {
    if (!a.nfc || !sessionPublicKey) throw new RangeError('paymentSignedContent: nfc flow needs the binding and the session key');
    w.bytes(a.nfc.challenge, CHALLENGE_LENGTH).bytes(sessionPublicKey, 32).ascii8(a.nfc.chargeId);
  }
  return w.finish();
}
