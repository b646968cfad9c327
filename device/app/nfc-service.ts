/**
 * The box's side of an NFC tap: runs the APDU exchange (drivers/nfc/exchange.ts) and, when the phone
 * sent its nonce, opens a RAM session (fresh X25519 key, single-use challenge, the charge on offer)
 * and answers with the device-signed identity card. A failed exchange erases its session.
 *
 * INVARIANTS: the session is opened inside one writer-queue task, so a tap is ordered against
 * charge, cancel and scan like any other input: a cancel that runs after the session was opened
 * erases it (closeForCharge), and a tap that runs after a cancel finds nothing to offer.
 * Faults (reader gone, phone pulled away, garbage APDUs) are logged with their code; the box keeps
 * scanning. A missing nfc-pcsc module leaves the box running without NFC.
 */
import type { Log } from '../../drivers/common/log.ts';
import { type BoxExchangeOptions, type BoxExchangeResult, runBoxExchange } from '../../drivers/nfc/exchange.ts';
import { FakeNfcReader } from '../../drivers/nfc/fake.ts';
import { PcscNfcReader } from '../../drivers/nfc/pcsc-reader.ts';
import { SocketSimNfcReader } from '../../drivers/nfc/socket-sim.ts';
import type { NfcReader, NfcStatus, NfcTap } from '../../drivers/nfc/types.ts';
import type { CryptoProvider, Ed25519Signer } from '../core/crypto/provider.ts';
import { toHex } from '../core/encoding/bytes.ts';
import { BoxError, isBoxError } from '../core/errors.ts';
import type { IdentityCard } from '../core/protocol/card.ts';
import { keyId } from '../core/protocol/labels.ts';
import { signNfcAnswer } from '../core/protocol/nfc-answer.ts';
import type { NfcSession } from '../core/views.ts';
import type { BoxConfig } from './config.ts';
import type { WriterQueue } from './pos/writer-queue.ts';

export const NFC_SESSION_TTL_SECONDS = 120;

export interface NfcOffer {
  chargeId: string;
  amount: number;
  currency: string;
}

export interface NfcServiceDeps {
  p: CryptoProvider;
  reader: NfcReader;
  sessions: { add(s: NfcSession): void; close(keyIdHex: string): void };
  ownCard: IdentityCard;
  device: Ed25519Signer;
  /** The clock the session store expires sessions against (the clock's lower bound). */
  now(): number;
  queue: WriterQueue;
  /** The charge a tap offers (runs inside the tap's writer task); null refuses the tap. */
  offer(): NfcOffer | null;
  log: Log;
  ttlSeconds?: number;
  exchange?: Pick<BoxExchangeOptions, 'maxChunk' | 'apduTimeoutMs' | 'timers'>;
}

export type TapResult = BoxExchangeResult & { sessionKeyId?: string };

export class NfcService {
  private lastStatus: NfcStatus | undefined;
  private running = false;
  private taps = 0;
  private faults = 0;

  constructor(private readonly d: NfcServiceDeps) {}

  get status(): NfcStatus | undefined {
    return this.lastStatus;
  }

  get counts(): { taps: number; faults: number } {
    return { taps: this.taps, faults: this.faults };
  }

  /** Opens the reader; false (logged, box keeps scanning) when the driver cannot be loaded. */
  async start(): Promise<boolean> {
    this.d.reader.onStatus((s) => {
      this.lastStatus = s;
      this.d.log.info({ event: 'nfc.status', state: s.state, readers: s.readers, code: s.code }, `nfc ${s.state}`);
    });
    this.d.reader.onTap((tap) => this.handleTap(tap).then(() => undefined));
    try {
      await this.d.reader.open();
    } catch (e) {
      const code = isBoxError(e) ? e.code : 'NFC_OPEN_FAILED';
      this.d.log.error({ event: 'nfc.disabled', code, err: e instanceof Error ? e.message : String(e) }, 'NFC unavailable: running without NFC, QR scanning continues');
      this.lastStatus = { state: 'error', readers: [], code };
      return false;
    }
    this.running = true;
    return true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.d.reader.close();
  }

  /** One tap: never rejects. */
  async handleTap(tap: NfcTap): Promise<TapResult> {
    this.taps++;
    let sessionKeyId: string | undefined;
    const result = await runBoxExchange(tap.transmit, {
      log: this.d.log,
      ...this.d.exchange,
      buildAnswer: async (phoneNonce) => {
        const opened = await this.d.queue.run('nfc-tap', () => this.openSession(phoneNonce));
        if (!opened) throw new BoxError('NFC_NO_CHARGE', 'NfcService.buildAnswer: no charge to offer');
        sessionKeyId = opened.keyIdHex;
        return opened.answer;
      },
    });
    if (!result.ok) {
      this.faults++;
      this.d.log.warn({ event: 'nfc.fault', code: result.code, step: result.step, sw: result.sw, reader: tap.readerName }, 'nfc tap failed');
      const k = sessionKeyId;
      if (k) await this.d.queue.run('nfc-close', () => this.d.sessions.close(k)).catch(() => {});
      return result;
    }
    this.d.log.info({ event: 'nfc.tap', reader: tap.readerName, chunks: result.chunks }, 'nfc session opened');
    return sessionKeyId ? { ...result, sessionKeyId } : result;
  }

  /** Runs inside a writer task. */
  private openSession(phoneNonce: Uint8Array): { keyIdHex: string; answer: Uint8Array } | null {
    const offer = this.d.offer();
    if (!offer) {
      this.d.log.info({ event: 'nfc.no-charge' }, 'tap refused: no pending charge');
      return null;
    }
    const { p, ownCard, device } = this.d;
    const ttl = this.d.ttlSeconds ?? NFC_SESSION_TTL_SECONDS;
    const key = p.x25519PrivateKey(p.randomBytes(32));
    const challenge = p.randomBytes(16);
    const keyIdHex = toHex(keyId(p, key.publicKey));
    const answer = signNfcAnswer(
      { card: ownCard, challenge: Uint8Array.from(challenge), sessionPublicKey: key.publicKey, ...offer, ttlSeconds: ttl },
      phoneNonce,
      device,
    );
    this.d.sessions.add({
      keyIdHex,
      key,
      sessionPublicKey: key.publicKey,
      challenge,
      ...offer,
      cardSerial: ownCard.serial,
      expiresAtMs: this.d.now() + ttl * 1000,
    });
    return { keyIdHex, answer };
  }
}

/** The reader the configuration names (lazy native load happens in its open()). */
export function createNfcReader(cfg: BoxConfig['nfc'], log: Log): NfcReader {
  switch (cfg.reader) {
    case 'fake':
      return new FakeNfcReader();
    case 'sim':
      if (!cfg.socket) throw new BoxError('CONFIG_INVALID', "createNfcReader: reader 'sim' needs nfc.socket");
      return new SocketSimNfcReader({ log, listen: { path: cfg.socket } });
    case 'pcsc':
      return new PcscNfcReader({ log });
  }
}
