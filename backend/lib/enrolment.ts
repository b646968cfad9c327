/**
 * Enrolment documents exchanged between a box and the key authority (docs/backend-api.md):
 * the request a box writes (online POST or an offline file) and the bundle the authority returns.
 * Only public or sealed material: nothing here is secret.
 */
import { z } from 'zod';

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes} bytes of lowercase hex`);

export const EnrolmentRequestSchema = z
  .object({
    version: z.literal(1),
    merchantId: z.string().regex(/^[A-Z0-9][A-Z0-9._-]{0,31}$/),
    displayName: z.string().min(1).max(64),
    currency: z.string().regex(/^[A-Z]{3}$/),
    currencyExponent: z.number().int().min(0).max(4).default(2),
    identityPublicKey: hex(32),
    devicePublicKey: hex(32),
    location: z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).optional(),
    cellIds: z.array(z.string().max(64)).max(16).default([]),
    bssids: z.array(z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)).max(16).default([]),
  })
  .strict();
export type EnrolmentRequest = z.infer<typeof EnrolmentRequestSchema>;

export const PublicKeyEntrySchema = z.object({ keyId: hex(8), publicKey: hex(32) }).strict();

export const EnrolmentBundleSchema = z
  .object({
    version: z.literal(1),
    merchantId: z.string(),
    /** Serial of this box's own card; `cards` holds it and the cards of the merchant's other tills. */
    ownCardSerial: z.number().int().nonnegative(),
    cards: z.array(z.string().startsWith('QC:')).min(1),
    /** Merchant key packages, current first, then the previous one kept during rotation. */
    merchantKeys: z.array(z.object({ keyId: hex(8), package: hex(80) }).strict()).min(1).max(2),
    authorities: z.array(PublicKeyEntrySchema).min(1),
    issuers: z.array(PublicKeyEntrySchema).min(1),
  })
  .strict();
export type EnrolmentBundle = z.infer<typeof EnrolmentBundleSchema>;
