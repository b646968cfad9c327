/**
 * A minimal reference client for the box side of the API (nonce, signed request). The tests and
 * tools use it; the box's own sync client implements the same contract (docs/backend-api.md).
 */
import type { CryptoProvider, Ed25519Signer } from '../../device/core/crypto/provider.ts';
import { toHex } from '../../device/core/encoding/bytes.ts';
import { keyId } from '../../device/core/protocol/labels.ts';
import { boxAuthMessage } from '../lib/signed.ts';

export interface HttpAnswer {
  status: number;
  body: unknown;
}

export class BoxClient {
  readonly keyIdHex: string;

  constructor(
    private readonly p: CryptoProvider,
    private readonly baseUrl: string,
    private readonly device: Ed25519Signer,
  ) {
    this.keyIdHex = toHex(keyId(p, device.publicKey));
  }

  async nonce(): Promise<string> {
    const r = await fetch(`${this.baseUrl}/v1/box/nonce`, { method: 'POST' });
    const body = (await r.json()) as { nonce: string };
    return body.nonce;
  }

  /** Sends one authenticated request; `tweak` lets tests corrupt the headers. */
  async request(
    method: 'GET' | 'POST',
    pathWithQuery: string,
    body: Uint8Array = new Uint8Array(0),
    tweak?: (h: Record<string, string>) => void,
  ): Promise<HttpAnswer> {
    const nonce = await this.nonce();
    const headers: Record<string, string> = {
      'x-box-key-id': this.keyIdHex,
      'x-box-nonce': nonce,
      'x-box-signature': toHex(this.device.sign(boxAuthMessage(this.p, method, pathWithQuery, nonce, body))),
    };
    if (method === 'POST') headers['content-type'] = 'application/octet-stream';
    tweak?.(headers);
    const r = await fetch(`${this.baseUrl}${pathWithQuery}`, { method, headers, ...(method === 'POST' ? { body } : {}) });
    return { status: r.status, body: await r.json() };
  }

  uploadBatch(signedBatch: Uint8Array): Promise<HttpAnswer> {
    return this.request('POST', '/v1/box/batches', signedBatch);
  }
}
