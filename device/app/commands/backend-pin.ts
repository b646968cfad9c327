/**
 * The back end this box was provisioned against: its URL and its pinned signing key, kept in the
 * key store's public area (public/backend.json) next to the enrolment bundle. The sync service
 * verifies the back end's signed answers against `publicKey` and never against a key it is sent.
 */
import { z } from 'zod';
import type { KeyStore } from '../../keys/types.ts';

export const BACKEND_PIN_NAME = 'backend.json';
export const MERCHANT_INFO_NAME = 'merchant.json';

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));

export const BackendPinSchema = z
  .object({
    url: z.string().url(),
    keyId: hex(8).optional(),
    publicKey: hex(32).optional(),
    /** Optional PEM of a private CA the back end's TLS certificate chains to. */
    caPem: z.string().optional(),
    pinnedAtMs: z.number().int().nonnegative(),
  })
  .strict();
export type BackendPin = z.infer<typeof BackendPinSchema>;

export function readBackendPin(store: KeyStore): BackendPin | undefined {
  const text = store.readPublic(BACKEND_PIN_NAME);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined; // a torn or hand-edited file reads as "not pinned", like one that fails the schema
  }
  const r = BackendPinSchema.safeParse(raw);
  return r.success ? r.data : undefined;
}

export function writeBackendPin(store: KeyStore, pin: BackendPin): void {
  store.writePublic(BACKEND_PIN_NAME, `${JSON.stringify(BackendPinSchema.parse(pin), null, 2)}\n`);
}
