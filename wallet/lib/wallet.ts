/**
 * The reference wallet: portable TypeScript, @noble only through the provider, no node: imports.
 * A phone app can port this file line by line; docs/protocol.md is the normative text.
 */
import type { CryptoProvider, Ed25519Signer } from '../../device/core/crypto/provider.ts';
import { setupBaseSender } from '../../device/core/crypto/hpke.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { encodeAuthorization, paymentSignedContent, type AuthorizationBody } from '../../device/core/protocol/authorization.ts';
import { cardHash, type IdentityCard, verifyCard } from '../../device/core/protocol/card.ts';
import { FLOW } from '../../device/core/protocol/constants.ts';
import type { Credential } from '../../device/core/protocol/credential.ts';
import { buildHeader, envelopeInfo, envelopeText } from '../../device/core/protocol/envelope.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { decodeNfcAnswer, type NfcAnswer, verifyNfcAnswerSignature } from '../../device/core/protocol/nfc-answer.ts';

export interface WalletState {
  /** Ed25519 seed of the wallet key. Stays on the phone. */
  seed: Uint8Array;
  credential: Credential;
  /** The last counter used. Persist it BEFORE showing a code (a restored backup must not reuse it). */
  counter: number;
}

export interface PayOptions {
  /** The verified NFC answer of this tap; the code then binds to its session and challenge. */
  nfc?: NfcAnswer;
  /** Test vectors only: deterministic HPKE ephemeral key and timestamp. */
  ikmE?: Uint8Array;
  timestampSec?: number;
}

export type WalletErrorCode =
  | 'CARD_UNTRUSTED'
  | 'CARD_EXPIRED'
  | 'CURRENCY_MISMATCH'
  | 'NFC_ANSWER_MALFORMED'
  | 'NFC_ANSWER_FORGED'
  | 'AMOUNT_INVALID';

export class WalletError extends Error {
  constructor(
    readonly code: WalletErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WalletError';
  }
}

export interface WalletOptions {
  /** Key authorities the wallet trusts, by key id (hex). */
  authorities: ReadonlyMap<string, Uint8Array>;
  now: () => number;
  /** Called with the new counter before the code is returned; persist it there. */
  saveCounter?: (counter: number) => void;
}

export class Wallet {
  private readonly signer: Ed25519Signer;
  private counterValue: number;

  constructor(
    private readonly p: CryptoProvider,
    private readonly state: WalletState,
    private readonly opts: WalletOptions,
  ) {
    this.signer = p.ed25519Signer(state.seed);
    this.counterValue = state.counter;
    if (toHex(this.signer.publicKey) !== toHex(state.credential.walletPublicKey)) {
      throw new Error('Wallet: the seed does not match the credential wallet key');
    }
  }

  get publicKey(): Uint8Array {
    return this.signer.publicKey;
  }
  get counter(): number {
    return this.counterValue;
  }
  get credential(): Credential {
    return this.state.credential;
  }

  /** Checks a card the way a phone must before paying to it (authority signature and dates). */
  checkCard(card: IdentityCard): void {
    const nowSec = Math.floor(this.opts.now() / 1000);
    const check = verifyCard(this.p, card, this.opts.authorities, toHex, { lowerSec: nowSec, upperSec: nowSec });
    if (check === 'expired' || check === 'not-yet-valid') throw new WalletError('CARD_EXPIRED', `card ${card.serial}: ${check}`);
    if (check !== 'ok') throw new WalletError('CARD_UNTRUSTED', `card ${card.serial}: ${check}`);
    if (card.currency !== this.state.credential.currency) {
      throw new WalletError('CURRENCY_MISMATCH', `card currency ${card.currency}, credential ${this.state.credential.currency}`);
    }
  }

  /**
   * Verifies an NFC answer from a tapped box: its card (authority) and its signature by the card's
   * device key over our nonce. Refuses to pay a forged or replayed answer.
   */
  verifyNfcAnswer(answerBytes: Uint8Array, phoneNonce: Uint8Array): NfcAnswer {
    const answer = decodeNfcAnswer(answerBytes);
    if (!answer) throw new WalletError('NFC_ANSWER_MALFORMED', 'NFC answer does not parse');
    this.checkCard(answer.card);
    if (!verifyNfcAnswerSignature(this.p, answer, phoneNonce)) {
      throw new WalletError('NFC_ANSWER_FORGED', 'NFC answer is not signed by the box named on the card');
    }
    return answer;
  }

  /** Produces the payment code text for `amount` minor units (the customer approved it). */
  pay(card: IdentityCard, amount: number, options: PayOptions = {}): { text: string; counter: number } {
    if (!Number.isInteger(amount) || amount <= 0 || amount > 0xffffffff) {
      throw new WalletError('AMOUNT_INVALID', `pay: expected a positive integer amount in minor units, got ${amount}`);
    }
    this.checkCard(card);
    const nfc = options.nfc;
    const counter = this.counterValue + 1;
    this.opts.saveCounter?.(counter);
    this.counterValue = counter;

    const recipient = nfc ? nfc.sessionPublicKey : card.encPublicKey;
    const kid = nfc ? keyId(this.p, nfc.sessionPublicKey) : card.encKeyId;
    const { enc, context } = setupBaseSender(this.p, recipient, envelopeInfo(kid), options.ikmE);
    const header = buildHeader(kid, enc);
    const body: AuthorizationBody = {
      flow: nfc ? FLOW.nfc : FLOW.static,
      cardSerial: card.serial,
      credential: this.state.credential,
      amount,
      currency: this.state.credential.currency,
      counter,
      timestamp: options.timestampSec ?? Math.floor(this.opts.now() / 1000),
    };
    if (nfc) body.nfc = { challenge: nfc.challenge, chargeId: nfc.chargeId };
    const signature = this.signer.sign(paymentSignedContent(this.p, body, cardHash(this.p, card), header, nfc?.sessionPublicKey));
    const ciphertext = context.seal(header, encodeAuthorization(body, signature));
    return { text: envelopeText(header, ciphertext), counter };
  }
}
