/**
 * The optional `sync` section of the box config. Absent: the box runs offline (no uploads).
 *
 *   "sync": { "backendUrl": "http://127.0.0.1:8420",
 *             "backendKey": { "keyId": "<16 hex>", "publicKey": "<64 hex>" },
 *             "intervalSec": 60, "connectivity": { "kind": "always" },
 *             "tls": { "spkiSha256": ["<base64 sha256 of the server's DER SubjectPublicKeyInfo>"] } }
 *
 * `tls` (https only): the back end's TLS public key(s), pinned. A box that boots in 1970 cannot
 * check certificate dates, so with pins the chain, host name and dates are not checked, only the
 * key; freshness comes from the back end's signed time. List the next key before a rotation.
 * Without `tls`, https uses normal CA verification (which needs a correct clock).
 */
import { z } from 'zod';

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes} bytes of lowercase hex`);

export const ConnectivityConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('always') }).strict(),
  /** Plain reachability: any 2xx from `url` (default <backendUrl>/v1/health). */
  z.object({ kind: z.literal('reachability'), url: z.string().url().optional(), timeoutMs: z.number().int().positive().default(5000) }).strict(),
  /** ModemManager: up only in state `connected` (a bearer), not `registered`. */
  z.object({ kind: z.literal('mmcli'), modem: z.string().default('any'), timeoutMs: z.number().int().positive().default(5000) }).strict(),
  /** AT commands on the modem's own port (pinned by a udev symlink, e.g. /dev/lte-at). */
  z
    .object({
      kind: z.literal('at'),
      path: z.string().min(1),
      vendor: z.enum(['quectel', 'simcom', 'auto']).default('auto'),
      baudRate: z.number().int().positive().default(115200),
      /** Also require the back end to answer (registration proves no data bearer). */
      probeBackend: z.boolean().default(true),
    })
    .strict(),
]);

export const SyncConfigSchema = z
  .object({
    backendUrl: z.string().url(),
    /** The back-end time-signing key, pinned at provisioning. */
    backendKey: z.object({ keyId: hex(8), publicKey: hex(32) }).strict(),
    intervalSec: z.number().int().positive().default(60),
    timeoutSec: z.number().int().positive().default(20),
    /** Show 'offline-backlog' when a debit has waited longer than this for its ack. */
    backlogAlertMin: z.number().positive().default(15),
    maxBatchEntries: z.number().int().min(2).max(1000).default(500),
    maxBatchBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(128 * 1024),
    connectivity: ConnectivityConfigSchema.default({ kind: 'always' }),
    tls: z
      .object({
        spkiSha256: z
          .array(z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected base64 of a 32-byte SHA-256 (44 characters ending in =)'))
          .min(1)
          .max(8),
      })
      .strict()
      .optional(),
  })
  .strict();

export type SyncConfig = z.infer<typeof SyncConfigSchema>;
export type ConnectivityConfig = z.infer<typeof ConnectivityConfigSchema>;
