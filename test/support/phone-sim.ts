/**
 * A phone tapping the box's 'sim' NFC reader (drivers/nfc/socket-sim.ts): tapPhone is the wallet CLI's
 * tap loop (wallet/cli/tap.ts: HCE responder + wallet.verifyNfcAnswer before 90 00); this file adds the
 * test-only wallets (stranger authorities), the answer tamperer and a raw misbehaving phone.
 */
import { randomBytes } from 'node:crypto';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import { fromHex } from '../../device/core/encoding/bytes.ts';
import { decodeCredential } from '../../device/core/protocol/credential.ts';
import { connectReader, type TapOptions, type TapResult, tapBox } from '../../wallet/cli/tap.ts';
import { loadWalletFile, openWallet } from '../../wallet/cli/wallet-file.ts';
import { Wallet } from '../../wallet/lib/wallet.ts';

/** The phone's tap loop lives with the wallet CLI (`npm run wallet -- tap`); the HIL tests drive the same code. */
export type PhoneTapOptions = TapOptions;
export type PhoneTapResult = TapResult;
export const tapPhone: (socketPath: string, opts: PhoneTapOptions) => Promise<PhoneTapResult> = tapBox;

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
  const socket = await connectReader(socketPath);
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
