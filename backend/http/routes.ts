/**
 * The route table of the back-end API v1 (docs/backend-api.md). Handlers are synchronous: the
 * database is synchronous, so each request runs to the end before the next one starts.
 */
import { z } from 'zod';
import { fromHex, toHex } from '../../device/core/encoding/bytes.ts';
import { ApiError } from '../lib/api-error.ts';
import type { BoxRow } from '../lib/authority.ts';
import type { Backend } from '../lib/backend.ts';
import { MAX_RADIUS_M } from '../lib/directory.ts';
import { EnrolmentRequestSchema } from '../lib/enrolment.ts';
import type { KeyRole } from '../lib/signed.ts';
import type { RequestContext } from './server.ts';

export interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  auth: 'none' | 'box' | 'admin' | 'enrol';
  binary?: boolean;
  handler(ctx: RequestContext, box: BoxRow | undefined): [number, unknown];
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ApiError(400, 'BAD_REQUEST', `invalid ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 32 bytes of lowercase hex');
const AccountBody = z.object({ accountId: z.string().min(1).max(64), balance: z.number().int().nonnegative(), currency: z.string().regex(/^[A-Z]{3}$/) }).strict();
const CredentialBody = z
  .object({
    accountId: z.string().min(1).max(64),
    walletPublicKey: hex32,
    offlineLimit: z.number().int().nonnegative().max(0xffffffff),
    days: z.number().int().min(1).max(3650).default(180),
  })
  .strict();
const RevokeBody = z.object({ walletPublicKey: hex32 }).strict();
const RefundBody = z.object({ debitId: z.string().regex(/^[0-9a-f]{32}$/), amount: z.number().int().positive() }).strict();
const num = (v: string | null, name: string, min: number, max: number): number => {
  const n = v === null || v.trim() === '' ? Number.NaN : Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new ApiError(400, 'BAD_REQUEST', `directory.lookup: ${name} must be a number in [${min}, ${max}]`);
  return n;
};

function mustBox(box: BoxRow | undefined): BoxRow {
  if (!box) throw new ApiError(401, 'UNKNOWN_BOX', 'box authentication required');
  return box;
}

export function routes(b: Backend): Route[] {
  return [
    { method: 'GET', path: /^\/v1\/health$/, auth: 'none', handler: () => [200, { ok: true }] },
    { method: 'POST', path: /^\/v1\/box\/nonce$/, auth: 'none', handler: () => [200, { nonce: b.auth.issueNonce() }] },
    {
      method: 'POST',
      path: /^\/v1\/box\/batches$/,
      auth: 'box',
      binary: true,
      handler: (ctx, box) => [200, b.answerBatch(mustBox(box), ctx.body)],
    },
    { method: 'GET', path: /^\/v1\/box\/time$/, auth: 'box', handler: (ctx) => [200, b.signedTime(ctx.url.searchParams.get('nonce'))] },
    { method: 'GET', path: /^\/v1\/box\/revocations$/, auth: 'box', handler: () => [200, b.issuer.signedRevocations()] },
    {
      method: 'GET',
      path: /^\/v1\/box\/updates$/,
      auth: 'box',
      handler: (ctx, box) => {
        const have = ctx.url.searchParams.get('rosterVersion');
        const haveVersion = have === null ? undefined : num(have, 'rosterVersion', 0, 2 ** 31);
        const u = b.authority.updatesFor(mustBox(box).device_key_id, haveVersion);
        return [
          200,
          {
            bundle: u.bundle,
            rejections: b.acquirer.rejectionsFor(mustBox(box).device_key_id),
            rosterVersion: u.rosterVersion,
            keyRollovers: b.keys.rollovers(),
            backendKey: b.backendKey(),
          },
        ];
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/enrol$/,
      auth: 'enrol',
      handler: (ctx) => [200, { ...b.authority.enrol(parse(EnrolmentRequestSchema, ctx.json())), backendKey: b.backendKey() }],
    },
    {
      method: 'GET',
      path: /^\/v1\/directory\/lookup$/,
      auth: 'none',
      handler: (ctx) => {
        const q = ctx.url.searchParams;
        if (q.has('lat') || q.has('lon')) {
          const radius = q.has('radius_m') ? num(q.get('radius_m'), 'radius_m', 1, MAX_RADIUS_M) : 200;
          return [200, { merchants: b.directory.byLocation(num(q.get('lat'), 'lat', -90, 90), num(q.get('lon'), 'lon', -180, 180), radius) }];
        }
        const cell = q.get('cell');
        if (cell !== null) {
          if (!/^\d{3}-\d{2,3}-[0-9A-Fa-f]{1,8}-[0-9A-Fa-f]{1,10}$/.test(cell)) throw new ApiError(400, 'BAD_REQUEST', 'directory.lookup: cell must be mcc-mnc-lac-cid');
          return [200, { merchants: b.directory.byCell(cell) }];
        }
        const bssid = q.get('bssid');
        if (bssid !== null) {
          if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(bssid)) throw new ApiError(400, 'BAD_REQUEST', 'directory.lookup: bssid must be aa:bb:cc:dd:ee:ff');
          return [200, { merchants: b.directory.byBssid(bssid) }];
        }
        throw new ApiError(400, 'BAD_REQUEST', 'directory.lookup: give lat+lon, cell or bssid');
      },
    },
    { method: 'GET', path: /^\/v1\/directory\/snapshot$/, auth: 'none', handler: () => [200, b.directory.snapshot()] },
    {
      method: 'POST',
      path: /^\/v1\/issuer\/accounts$/,
      auth: 'admin',
      handler: (ctx) => {
        const r = parse(AccountBody, ctx.json());
        b.issuer.createAccount(r.accountId, r.balance, r.currency);
        return [201, b.ledger.account(r.accountId)];
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/issuer\/credentials$/,
      auth: 'admin',
      handler: (ctx) => {
        const r = parse(CredentialBody, ctx.json());
        const cred = b.issuer.issueCredential(r.accountId, fromHex(r.walletPublicKey), r.offlineLimit, r.days);
        return [201, { credential: toHex(cred.bytes), notAfter: cred.notAfter, authorities: b.keys.entries('authority') }];
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/issuer\/revoke$/,
      auth: 'admin',
      handler: (ctx) => [200, { version: b.issuer.revoke(parse(RevokeBody, ctx.json()).walletPublicKey) }],
    },
    {
      method: 'POST',
      path: /^\/v1\/acquirer\/refunds$/,
      auth: 'admin',
      handler: (ctx) => {
        const r = parse(RefundBody, ctx.json());
        return [200, b.acquirer.refund(r.debitId, r.amount)];
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/ledger\/accounts\/([^/]{1,80})$/,
      auth: 'admin',
      handler: (ctx) => {
        const id = ctx.params[0]!;
        const a = b.ledger.account(id);
        if (!a) throw new ApiError(404, 'UNKNOWN_ACCOUNT', `ledger: no account ${JSON.stringify(id.slice(0, 70))}`);
        return [200, { ...a, entries: b.ledger.entriesOf(id) }];
      },
    },
    { method: 'GET', path: /^\/v1\/ledger\/total$/, auth: 'admin', handler: () => [200, { total: b.ledger.total() }] },
    { method: 'GET', path: /^\/v1\/acquirer\/flags$/, auth: 'admin', handler: () => [200, { flags: b.acquirer.flags() }] },
    {
      method: 'POST',
      path: /^\/v1\/authority\/boxes\/([0-9a-f]{16})\/revoke$/,
      auth: 'admin',
      handler: (ctx) => {
        if (!b.authority.revokeBox(ctx.params[0]!)) throw new ApiError(404, 'UNKNOWN_BOX', `authority: no box ${ctx.params[0]}`);
        return [200, { revoked: ctx.params[0] }];
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/authority\/merchants\/([A-Z0-9][A-Z0-9._-]{0,31})\/rotate$/,
      auth: 'admin',
      handler: (ctx) => [200, { merchantId: ctx.params[0], keyId: b.authority.rotateMerchantKey(ctx.params[0]!) }],
    },
    {
      method: 'POST',
      path: /^\/v1\/authority\/keys\/(authority|issuer|time)\/rollover$/,
      auth: 'admin',
      handler: (ctx) => [200, b.keys.rollover(ctx.params[0] as KeyRole)],
    },
  ];
}
