/**
 * The acquirer's signed answer to an upload batch (docs/backend-api.md). The box acts on it by
 * marking debits settled or rejected and later pruning them, so it must come from the back end:
 * the back-end key the box pinned at enrolment signs
 *
 *   labeled("qrpay/v1/batch-ack", SHA-256(batch bytes) || u32 batchSeq || SHA-256(results text))
 *
 * where results text = one line per result "debitId status code" (code empty when absent), then a
 * line "--", then one line per void in the same form, all joined by "\n".
 */
import type { CryptoProvider } from '../crypto/provider.ts';
import { concatBytes, i2osp, utf8 } from '../encoding/bytes.ts';
import { LABEL } from './constants.ts';
import { labeled } from './labels.ts';

export interface AckEntry {
  debitId: string;
  status: string;
  code?: string | undefined;
}

export function batchAckMessage(p: CryptoProvider, batchBytes: Uint8Array, batchSeq: number, results: readonly AckEntry[], voids: readonly AckEntry[]): Uint8Array {
  const line = (e: AckEntry) => `${e.debitId} ${e.status} ${e.code ?? ''}`;
  const text = [...results.map(line), '--', ...voids.map(line)].join('\n');
  return labeled(LABEL.batchAck, concatBytes(p.sha256(batchBytes), i2osp(batchSeq, 4), p.sha256(utf8.encode(text))));
}
