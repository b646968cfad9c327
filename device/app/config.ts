/**
 * The box configuration: one JSON file, validated strictly. An unknown key or a bad value stops
 * start-up with a message naming the key. config/default.json is the embedded default.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { BoxError } from '../core/errors.ts';
import { SyncConfigSchema } from '../sync/config-schema.ts';

const amountText = z.string().regex(/^\d{1,10}(\.\d{1,4})?$/, 'expected an amount like "12.50"');

const ScannerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tcp-sim'), host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(7410) }).strict(),
  z
    .object({
      kind: z.literal('serial'),
      path: z.string().min(1),
      baudRate: z.number().int().positive().default(9600),
      delimiter: z.enum(['\r', '\n', '\r\n', '\t']).default('\r'),
      maxLineBytes: z.number().int().min(64).max(65536).default(4096),
      gm65: z.object({ configure: z.boolean().default(false), targetBaud: z.number().int().default(115200) }).strict().optional(),
    })
    .strict(),
]);

const LedSchema = z.object({ green: z.string(), red: z.string(), amber: z.string().optional(), buzzer: z.string().optional() }).strict();

const IndicatorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('console'), verbose: z.boolean().default(false) }).strict(),
  z
    .object({
      kind: z.literal('kernel-led'),
      leds: LedSchema,
      pwmBuzzer: z.object({ chip: z.number().int(), channel: z.number().int(), highHz: z.number().positive().optional(), lowHz: z.number().positive().optional() }).strict().optional(),
      sysfsRoot: z.string().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('gpio-onoff'),
      pins: z.object({ green: z.number().int(), red: z.number().int(), amber: z.number().int().optional(), buzzer: z.number().int().optional() }).strict(),
      activeLow: z.object({ green: z.boolean(), red: z.boolean(), amber: z.boolean(), buzzer: z.boolean() }).partial().strict().optional(),
      gpioChipLabel: z.string().optional(),
      sysfsRoot: z.string().optional(),
    })
    .strict(),
]);

/** POS (cash register) link, docs/pos-link.md. A non-loopback host needs keyFile (HMAC key, hex). */
const PosSchema = z.discriminatedUnion('transport', [
  z
    .object({
      transport: z.literal('tcp'),
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(7420),
      keyFile: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      transport: z.literal('serial'),
      path: z.string().min(1),
      baudRate: z.number().int().positive().default(9600),
      keyFile: z.string().min(1).optional(),
    })
    .strict(),
]);

export type PosConfig = z.infer<typeof PosSchema>;

export const ConfigSchema = z
  .object({
    stateDir: z.string().min(1),
    /** Embedded default only: provision a demo merchant, authority and wallet under this directory. */
    demo: z
      .object({
        dir: z.string().min(1),
        merchantId: z.string().default('DEMO-CAFE'),
        displayName: z.string().default('Demo Café'),
        /** Run the reference back end in-process and enrol the demo box with it (device/app/demo-backend.ts); absent = offline demo. */
        backend: z
          .object({
            host: z.string().default('127.0.0.1'),
            port: z.number().int().min(0).max(65535).default(8787),
            intervalSec: z.number().int().positive().default(10),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    timezone: z.string().default('UTC'),
    amount: z.discriminatedUnion('mode', [
      z.object({ mode: z.literal('fixed'), price: amountText }).strict(),
      z.object({ mode: z.literal('pos') }).strict(),
    ]),
    scanner: ScannerSchema,
    indicator: IndicatorSchema,
    policy: z
      .object({
        freshnessSec: z.number().int().positive().default(600),
        futureSkewSec: z.number().int().nonnegative().default(300),
        revocationMaxAgeHours: z.number().positive().default(168),
        requireChallenge: z.boolean().default(false),
      })
      .strict()
      .default({ freshnessSec: 600, futureSkewSec: 300, revocationMaxAgeHours: 168, requireChallenge: false }),
    /** The same code read again within this window repeats the earlier outcome (continuous-mode scanners). */
    repeatWindowMs: z.number().int().min(0).max(60_000).default(4000),
    journal: z
      .object({ retentionDays: z.number().int().positive().default(30), lowDiskMb: z.number().int().positive().default(64) })
      .strict()
      .default({ retentionDays: 30, lowDiskMb: 64 }),
    /** Control socket for `scanner status` and the local charge interface. */
    control: z.object({ socket: z.string().optional() }).strict().default({}),
    pos: PosSchema.optional(),
    /** NFC merchant-identity exchange with tapping phones (drivers/nfc). */
    nfc: z
      .object({
        enabled: z.boolean().default(false),
        /** 'sim': a local socket plays the field (drivers/nfc/socket-sim.ts; demo and HIL tests). */
        reader: z.enum(['pcsc', 'fake', 'sim']).default('pcsc'),
        /** Unix socket path of the 'sim' reader. */
        socket: z.string().min(1).max(100).optional(),
        /** How long a tap's session (key, challenge, charge) stays usable. */
        sessionTtlSec: z.number().int().min(1).max(3600).default(120),
      })
      .strict()
      .refine((n) => n.reader !== 'sim' || n.socket !== undefined, { message: "reader 'sim' needs nfc.socket (a unix socket path)", path: ['socket'] })
      .default({ enabled: false, reader: 'pcsc', sessionTtlSec: 120 }),
    crypto: z.enum(['node', 'noble']).default('node'),
    log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).strict().default({ level: 'info' }),
    /** Reconciliation with the back end (device/sync/config-schema.ts); absent = the box runs offline. */
    sync: SyncConfigSchema.optional(),
    /** Allow the state directory on tmpfs/overlay (tests and the embedded demo only). */
    allowVolatileState: z.boolean().default(false),
  })
  .strict();

export type BoxConfig = z.infer<typeof ConfigSchema>;

/** Validates parsed JSON; throws BoxError CONFIG_INVALID naming each bad key. */
export function parseConfig(raw: unknown, source: string): BoxConfig {
  const r = ConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 5).map((i) => {
    const key = i.path.join('.') || '(root)';
    const extra = i.code === 'unrecognized_keys' ? ` ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` : '';
    return `${key}: ${i.message}${extra}`;
  });
  throw new BoxError('CONFIG_INVALID', `config ${source}: ${problems.join('; ')}`);
}

export function loadConfig(path: string): BoxConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BoxError('CONFIG_MISSING', `config: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BoxError('CONFIG_INVALID', `config ${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, path);
}
