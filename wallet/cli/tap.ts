/**
 * `wallet tap`: the phone side of an NFC tap on the box's simulated reader (drivers/nfc/socket-sim.ts,
 * config `nfc.reader: 'sim'`). Connecting to its unix socket is the phone entering the field; each
 * u16-length-framed command APDU is answered by the reference wallet's HCE responder
 * (wallet/lib/nfc-hce.ts), and the box's signed answer (card, challenge, session key, charge) is
 * verified with wallet.verifyNfcAnswer before the phone says 90 00, exactly as a phone app must.
 * The verified answer then goes into wallet.pay(card, amount, {nfc: answer}).
 *
 * test/support/phone-sim.ts reuses tapBox() (with its fault-injection options) for the HIL tests.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { formatAmount, parseAmount } from '../../device/core/money.ts';
import type { NfcAnswer } from '../../device/core/protocol/nfc-answer.ts';
import { encodeSimFrame, takeSimFrame } from '../../drivers/nfc/socket-sim.ts';
import { createHceResponder } from '../lib/nfc-hce.ts';
import { type Wallet, WalletError } from '../lib/wallet.ts';

/** The embedded default's sim reader socket (config/default.json, nfc.socket). */
export const DEFAULT_NFC_SOCKET = 'var/box/nfc.sock';

export interface TapOptions {
  /** The wallet that verifies the box's answer (and later pays). */
  wallet: Wallet;
  /** Give up (and hang up) after this long. Default 10 s. */
  timeoutMs?: number;
  /** Fault injection: hang up instead of answering command number `pullAwayAfter` (0-based; 1 = after answering SELECT). */
  pullAwayAfter?: number;
  /** Fault injection: an in-line man in the middle rewrites each command APDU before the HCE service sees it. */
  tamperCommand?: (apdu: Uint8Array, index: number) => Uint8Array;
}

export interface TapResult {
  /** The verified answer when the phone accepted the box (it then replied 90 00). */
  answer?: NfcAnswer;
  /** Why the phone refused the answer (a WalletError code, e.g. NFC_ANSWER_FORGED, CARD_UNTRUSTED). */
  refusal?: string;
  /** Command APDUs the phone received. */
  commands: Uint8Array[];
  /** Status words the phone sent back, hex ("9000", "6982"). */
  statusWords: string[];
  /** The phone hung up on purpose (pullAwayAfter). */
  pulledAway: boolean;
  /** The tap ended by timeoutMs rather than by the box switching the field off. */
  timedOut: boolean;
}

/** Connects to the sim reader's unix socket; rejects with the socket error (ENOENT, ECONNREFUSED). */
export function connectReader(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path: socketPath });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

function swHex(response: Uint8Array): string {
  return Buffer.from(response.subarray(-2)).toString('hex');
}

/** One tap: resolves when the box switches the field off (closes), the phone pulls away, or on timeout. */
export async function tapBox(socketPath: string, opts: TapOptions): Promise<TapResult> {
  const result: TapResult = { commands: [], statusWords: [], pulledAway: false, timedOut: false };
  const responder = createHceResponder({
    randomBytes: (n) => Uint8Array.from(randomBytes(n)),
    onAnswer: (phoneNonce, answerBytes) => {
      try {
        result.answer = opts.wallet.verifyNfcAnswer(answerBytes, phoneNonce);
        return true;
      } catch (e) {
        result.refusal = e instanceof WalletError ? e.code : `ERROR: ${e instanceof Error ? e.message : String(e)}`;
        return false;
      }
    },
  });
  const socket = await connectReader(socketPath);
  return new Promise<TapResult>((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      result.timedOut = true;
      socket.destroy();
    }, opts.timeoutMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = takeSimFrame(buf);
        if (parsed.kind !== 'frame') return;
        buf = parsed.rest;
        const index = result.commands.length;
        const command = opts.tamperCommand ? opts.tamperCommand(parsed.frame, index) : parsed.frame;
        result.commands.push(command);
        if (opts.pullAwayAfter !== undefined && index >= opts.pullAwayAfter) {
          result.pulledAway = true;
          socket.destroy();
          return;
        }
        const response = responder.respond(command);
        result.statusWords.push(swHex(response));
        socket.write(encodeSimFrame(response));
      }
    });
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      clearTimeout(timer);
      responder.reset();
      resolve(result);
    });
  });
}

/** The customer's view of a verified answer: who asks how much, for which charge. */
export function describeOffer(a: NfcAnswer): Record<string, unknown> {
  return {
    merchantId: a.card.merchantId,
    displayName: a.card.displayName,
    card: a.card.serial,
    till: a.card.tillId,
    chargeId: a.chargeId,
    amount: formatAmount(a.amount, a.card.currencyExponent, a.currency),
    sessionTtlSec: a.ttlSeconds,
  };
}

/**
 * Taps the box at `socketPath` and returns its verified answer, or throws an Error whose message says
 * what went wrong (no reader there, the phone refused a forged or untrusted answer, no charge on offer).
 */
export async function tapForAnswer(socketPath: string, wallet: Wallet, timeoutMs?: number): Promise<NfcAnswer> {
  let result: TapResult;
  try {
    result = await tapBox(socketPath, { wallet, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new Error(`wallet tap: cannot reach the box's simulated NFC reader at ${socketPath} (${code}); is npm start running with nfc.reader 'sim'? (or pass --socket)`);
  }
  if (result.answer) return result.answer;
  if (result.refusal) throw new Error(`wallet tap: refused the box's answer (${result.refusal}); not paying`);
  if (result.timedOut) throw new Error(`wallet tap: the box at ${socketPath} did not finish the exchange in time`);
  // The box switched the field off after SELECT without an answer: nothing to offer (e.g. no pending charge).
  throw new Error(`wallet tap: the box sent no answer after ${result.commands.length} command(s); it has no charge on offer (set one at the register?)`);
}

/**
 * The amount the customer approved (`--pay` text) must equal the charge the box offered; returns it in
 * minor units or throws with both amounts in the message.
 */
export function approvedAmount(answer: NfcAnswer, payText: string): number {
  const exp = answer.card.currencyExponent;
  if (answer.currency !== answer.card.currency) {
    throw new Error(`wallet tap: the box asks for ${answer.currency} but its card is in ${answer.card.currency}; not paying`);
  }
  const approved = parseAmount(payText, exp);
  if (approved === null || approved === 0) throw new Error(`wallet tap: expected --pay with an amount like 12.50, got ${JSON.stringify(payText)}`);
  if (approved !== answer.amount) {
    throw new Error(
      `wallet tap: the box asks ${formatAmount(answer.amount, exp, answer.currency)} (charge ${answer.chargeId}) but you approved ` +
        `${formatAmount(approved, exp, answer.currency)}; not paying (pass --pay ${formatAmount(answer.amount, exp)} to approve it)`,
    );
  }
  return approved;
}
