/**
 * A phone tapping the box's 'sim' NFC reader (drivers/nfc/socket-sim.ts): connects to its unix socket,
 * answers each u16-length-framed command APDU with the reference wallet's HCE responder
 * (wallet/lib/nfc-hce.ts), and verifies the box's answer with wallet.verifyNfcAnswer, exactly as a
 * phone app must before paying. The verified answer then goes into wallet.pay(card, amount, {nfc}).
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { fromHex } from '../../device/core/encoding/bytes.ts';
import { decodeCredential } from '../../device/core/protocol/credential.ts';
import type { NfcAnswer } from '../../device/core/protocol/nfc-answer.ts';
import { encodeSimFrame, takeSimFrame } from '../../drivers/nfc/socket-sim.ts';
import { loadWalletFile, openWallet } from '../../wallet/cli/wallet-file.ts';
import { createHceResponder } from '../../wallet/lib/nfc-hce.ts';
import { Wallet, WalletError } from '../../wallet/lib/wallet.ts';

export interface PhoneTapOptions {
  /** The wallet that verifies (and later pays); see openPhoneWallet. */
  wallet: Wallet;
  /** Hang up instead of answering command number `pullAwayAfter` (0-based): 1 = after answering SELECT. */
  pullAwayAfter?: number;
  /** An in-line man in the middle: rewrites each command APDU before the phone's HCE service sees it. */
  tamperCommand?: (apdu: Uint8Array, index: number) => Uint8Array;
  /** Give up (and hang up) after this long. Default 10 s. */
  timeoutMs?: number;
}

export interface PhoneTapResult {
  /** The verified answer when the phone accepted the box (then it replied 90 00). */
  answer?: NfcAnswer;
  /** Why the phone refused the answer (a WalletError code, e.g. NFC_ANSWER_FORGED, CARD_UNTRUSTED). */
  refusal?: string;
  /** Command APDUs the phone received. */
  commands: Uint8Array[];
  /** Status words the phone sent back, hex ("9000", "6982"). */
  statusWords: string[];
  /** The phone hung up on purpose (pullAwayAfter). */
  pulledAway: boolean;
}

/**
 * The demo wallet the box provisioned (wallet.json under the HIL demo dir). `authorities` replaces the
 * trusted key authorities (a phone that trusts someone else); such a wallet does not persist counters.
 */
export function openPhoneWallet(walletPath: string, opts: { authorities?: ReadonlyMap<string, Uint8Array> } = {}): Wallet {
  if (!opts.authorities) return openWallet(nobleProvider, walletPath);
  const file = loadWalletFile(walletPath);
  const credential = decodeCredential(fromHex(file.credential));
  if (!credential) throw new Error(`openPhoneWallet: ${walletPath} holds an unreadable credential`);
  return new Wallet(nobleProvider, { seed: fromHex(file.seed), credential, counter: file.counter }, { authorities: opts.authorities, now: Date.now });
}

/** A random authority the box's card was never signed by. */
export function strangerAuthorities(): Map<string, Uint8Array> {
  const key = nobleProvider.ed25519Signer(randomBytes(32)).publicKey;
  return new Map([['00'.repeat(8), key]]);
}

function connect(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path: socketPath });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

function hex2(sw: Uint8Array): string {
  return Buffer.from(sw.subarray(-2)).toString('hex');
}

/** One tap: resolves when the box switches the field off (closes), the phone pulls away, or on timeout. */
export async function tapPhone(socketPath: string, opts: PhoneTapOptions): Promise<PhoneTapResult> {
  const result: PhoneTapResult = { commands: [], statusWords: [], pulledAway: false };
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
  const socket = await connect(socketPath);
  return new Promise<PhoneTapResult>((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), opts.timeoutMs ?? 10_000);
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
        result.statusWords.push(hex2(response));
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

/**
 * Flips the last byte of the final PUT ANSWER (CLA 80, INS D0) data: the tail of the box's device
 * signature, so the card still parses and only the signature check can catch it.
 */
export function flipLastAnswerByte(apdu: Uint8Array): Uint8Array {
  if (apdu[0] !== 0x80 || apdu[1] !== 0xd0 || apdu.length < 6) return apdu;
  const out = Uint8Array.from(apdu);
  out[out.length - 1]! ^= 0x01;
  return out;
}

/** Connects as a misbehaving phone: on the box's first command, writes `bytes` raw and resolves with what the box did (closed or not within `waitMs`). */
export async function rawPhone(socketPath: string, bytes: Uint8Array, waitMs = 3000): Promise<{ closedByBox: boolean; received: number }> {
  const socket = await connect(socketPath);
  let received = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedByBox: false, received });
    }, waitMs);
    // Wait for the box's SELECT, so the bytes arrive while a command is outstanding.
    socket.on('data', (d: Buffer) => {
      if (received === 0) socket.write(Buffer.from(bytes));
      received += d.length;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedByBox: true, received });
    });
  });
}
