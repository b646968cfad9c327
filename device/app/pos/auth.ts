/**
 * Per-message authentication of the POS link on a non-loopback address: HMAC-SHA256 with a
 * provisioned key over the canonical JSON of the message without its "mac" field, plus a "seq"
 * that must grow strictly (it stops a sniffed message from being replayed, even after a restart).
 *
 * INVARIANTS: verify() and seal() run inside writer-queue tasks, so seq checks and their
 * persistence happen in message order; the last accepted POS seq is durable before the command runs.
 */
import { timingSafeEqual } from 'node:crypto';
import { utf8 } from '../../core/encoding/bytes.ts';
import { canonicalJson, POS_ERROR, type PosErrorCode } from './messages.ts';

export interface SeqStore {
  get(key: string): unknown;
  set(key: string, value: number): void;
}

const POS_SEQ_KEY = 'pos.auth.lastSeq';
const BOX_SEQ_KEY = 'pos.auth.boxSeqReserved';
/** The box's own seq is persisted in blocks: a restart skips at most this many numbers. */
const BOX_SEQ_BLOCK = 1000;
const MAC_HEX = /^[0-9a-f]{64}$/;

export function macOf(hmac: (key: Uint8Array, data: Uint8Array) => Uint8Array, key: Uint8Array, message: Record<string, unknown>): string {
  const { mac: _ignored, ...rest } = message;
  return Buffer.from(hmac(key, utf8.encode(canonicalJson(rest)))).toString('hex');
}

export class PosAuth {
  private lastSeq: number;
  private boxSeq: number;
  private boxSeqReserved: number;

  constructor(
    private readonly key: Uint8Array,
    private readonly hmac: (key: Uint8Array, data: Uint8Array) => Uint8Array,
    private readonly store: SeqStore,
  ) {
    if (key.length < 16) throw new RangeError(`PosAuth: key must be at least 16 bytes, got ${key.length}`);
    const last = store.get(POS_SEQ_KEY);
    this.lastSeq = typeof last === 'number' ? last : 0;
    const reserved = store.get(BOX_SEQ_KEY);
    this.boxSeqReserved = typeof reserved === 'number' ? reserved : 0;
    this.boxSeq = this.boxSeqReserved;
  }

  /** Checks mac and seq of an incoming message; null when it is authentic and fresh. */
  verify(message: Record<string, unknown>): PosErrorCode | null {
    const mac = message['mac'];
    const seq = message['seq'];
    if (typeof mac !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq)) return POS_ERROR.AUTH_REQUIRED;
    if (!MAC_HEX.test(mac)) return POS_ERROR.BAD_MAC;
    const expected = Buffer.from(macOf(this.hmac, this.key, message), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(mac, 'hex'))) return POS_ERROR.BAD_MAC;
    if (seq <= this.lastSeq) return POS_ERROR.REPLAYED_SEQ;
    this.store.set(POS_SEQ_KEY, seq);
    this.lastSeq = seq;
    return null;
  }

  /** Adds the box's seq and mac to an outgoing message. */
  seal<T extends object>(message: T): T & { seq: number; mac: string } {
    this.boxSeq += 1;
    if (this.boxSeq > this.boxSeqReserved) {
      this.boxSeqReserved = this.boxSeq + BOX_SEQ_BLOCK;
      this.store.set(BOX_SEQ_KEY, this.boxSeqReserved);
    }
    const withSeq = { ...message, seq: this.boxSeq };
    return { ...withSeq, mac: macOf(this.hmac, this.key, withSeq as Record<string, unknown>) };
  }
}
