/**
 * A box without drivers for the POS and NFC tests: the world's SHOP-A till 1, a real SQLite journal
 * in a temp dir, the real Acceptor, ChargeBook, WriterQueue and NfcService over a FakeNfcReader, and
 * a phone (HCE responder + reference wallet). Time moves only through `advance()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../../drivers/common/log.ts';
import { FakeNfcReader } from '../../drivers/nfc/fake.ts';
import type { Pattern } from '../../drivers/indicator/types.ts';
import { Acceptor, type ScanOutcome } from '../../device/app/acceptor.ts';
import { BoxClock } from '../../device/app/clock.ts';
import type { PosConfig } from '../../device/app/config.ts';
import { NfcService } from '../../device/app/nfc-service.ts';
import { NfcSessionStore } from '../../device/app/nfc-sessions.ts';
import { ChargeBook } from '../../device/app/pos/charge-book.ts';
import type { PosEvent } from '../../device/app/pos/messages.ts';
import { type PosLinkHandle, startPosLink } from '../../device/app/pos/start.ts';
import { WriterQueue } from '../../device/app/pos/writer-queue.ts';
import { nobleProvider } from '../../device/core/crypto/noble.ts';
import type { NfcAnswer } from '../../device/core/protocol/nfc-answer.ts';
import { type AmountSource, DEFAULT_POLICY } from '../../device/core/views.ts';
import { openSqliteJournal } from '../../device/journal/sqlite-journal.ts';
import { createHceResponder } from '../../wallet/lib/nfc-hce.ts';
import type { Wallet } from '../../wallet/lib/wallet.ts';
import { makeWorld, T0, type World } from '../support/world.ts';

export const p = nobleProvider;

/** A Log that records every line (level, object) for assertions on fault codes. */
export function recordingLog(): Log & { lines: { level: string; obj: Record<string, unknown> }[] } {
  const lines: { level: string; obj: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (obj: object): void => {
      lines.push({ level, obj: obj as Record<string, unknown> });
    };
  const log = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log } as unknown as Log & {
    lines: typeof lines;
  };
  return log;
}

export interface RigOptions {
  mode?: 'pos' | 'fixed';
  dir?: string;
  /** Detach the ChargeBook from the Acceptor's events (simulates a box killed right after the commit). */
  dropEvents?: boolean;
  /** The device key the box signs NFC answers with (default: the till's own). */
  answerSigner?: World['device'][number];
  world?: World;
}

export function makeRig(o: RigOptions = {}) {
  const w = o.world ?? makeWorld(p);
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'qrpay-pos-'));
  const journal = openSqliteJournal({ path: join(dir, 'journal.db'), retentionMs: 30 * 86400_000 });
  const log = recordingLog();
  let mono = 0;
  const clock = new BoxClock({ wallNow: () => T0 + mono, monoNow: () => mono, loadLastKnownGood: () => T0, saveLastKnownGood: () => {}, floorMs: 0 });
  const sessions = new NfcSessionStore(() => clock.view().lowerMs);
  const mode = o.mode ?? 'pos';
  let charge: AmountSource = mode === 'fixed' ? { kind: 'fixed', amount: 12_50, currency: 'EUR' } : { kind: 'none' };
  const queue = new WriterQueue(log);
  const book = new ChargeBook({
    journal,
    sessions,
    device: w.device[0]!,
    nowMs: () => clock.nowMs(),
    log,
    currency: 'EUR',
    mode,
    ...(mode === 'fixed' ? { fixedPrice: { amount: 12_50, currency: 'EUR' } } : {}),
    activate: (c) => {
      if (charge.kind === 'charge') sessions.closeForCharge(charge.chargeId);
      charge = c ? { kind: 'charge', ...c } : mode === 'fixed' ? charge : { kind: 'none' };
    },
  });
  book.reconcile();
  const shown: Pattern[] = [];
  const events: PosEvent[] = [];
  book.subscribe((e) => events.push(e));
  const acceptor = new Acceptor({
    p,
    journal,
    keys: { ...w.keysOf(w.shopA, 0), sessions },
    issuers: w.issuers,
    clock,
    indicator: { open: async () => {}, show: (x) => shown.push(x), setBase: () => {}, close: async () => {} },
    log,
    policy: DEFAULT_POLICY,
    repeatWindowMs: 0,
    amountSource: () => charge,
    revocations: () => ({ version: 7, issuedAtMs: T0 - 3600_000, isRevoked: () => false }),
    closeSession: (k) => sessions.close(k),
    ...(o.dropEvents ? {} : { events: { paid: (e) => book.onPaid(e), declined: (e) => book.onDeclined(e) } }),
  });
  const reader = new FakeNfcReader();
  const nfc = new NfcService({
    p,
    reader,
    sessions,
    ownCard: w.shopA.cards[0]!,
    device: o.answerSigner ?? w.device[0]!,
    now: () => clock.view().lowerMs,
    queue,
    offer: () => book.offerForTap(),
    log,
  });
  let pos: PosLinkHandle | undefined;

  return {
    w,
    dir,
    journal,
    log,
    clock,
    sessions,
    queue,
    book,
    acceptor,
    reader,
    nfc,
    shown,
    events,
    amountSource: () => charge,
    advance(ms: number) {
      mono += ms;
    },
    scan: (text: string): Promise<ScanOutcome> => queue.run('scan', () => acceptor.handleScan(text)),
    command: (cmd: Parameters<ChargeBook['command']>[0]) => queue.run('pos', () => book.command(cmd)),
    async startPos(cfg: Partial<Extract<PosConfig, { transport: 'tcp' }>> = {}) {
      pos = await startPosLink({ transport: 'tcp', host: '127.0.0.1', port: 0, ...cfg }, { book, queue, journal, p, log });
      return pos;
    },
    async close(removeDir = true) {
      await pos?.close();
      await nfc.stop();
      journal.close();
      if (removeDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
export type Rig = ReturnType<typeof makeRig>;

/** A phone: HCE responder whose onAnswer verifies the box through the wallet, then can pay. */
export function makePhone(wallet: Wallet) {
  const state: { answer?: NfcAnswer; refusal?: unknown; answers: number } = { answers: 0 };
  const hce = createHceResponder({
    randomBytes: (n) => p.randomBytes(n),
    onAnswer: (nonce, bytes) => {
      state.answers++;
      try {
        state.answer = wallet.verifyNfcAnswer(bytes, nonce);
        state.refusal = undefined;
        return true;
      } catch (e) {
        state.answer = undefined;
        state.refusal = e;
        return false;
      }
    },
  });
  return {
    hce,
    state,
    /** Pays the verified answer's charge to its session key; throws when the phone refused the box. */
    payTapped(): string {
      const a = state.answer;
      if (!a) throw new Error('phone: no verified NFC answer to pay');
      return wallet.pay(a.card, a.amount, { nfc: a }).text;
    },
  };
}

/** A line-JSON client on a real TCP socket. */
export async function posClient(port: number) {
  const socket: Socket = createConnection({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const inbox: Record<string, unknown>[] = [];
  const waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      const m = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      buf = buf.slice(nl + 1);
      const i = waiters.findIndex((x) => x.pred(m));
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
      else inbox.push(m);
    }
  });
  const next = (pred: (m: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> => {
    const i = inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
    return new Promise((resolve) => waiters.push({ pred, resolve }));
  };
  return {
    socket,
    inbox,
    next,
    sendRaw(text: string) {
      socket.write(text);
    },
    /** Sends one message and resolves with the next reply (anything but a paid/declined event). */
    async request(msg: object): Promise<Record<string, unknown>> {
      socket.write(`${JSON.stringify(msg)}\n`);
      return next((m) => m['type'] !== 'paid' && m['type'] !== 'declined');
    },
    close() {
      socket.destroy();
    },
  };
}
