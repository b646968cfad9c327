/**
 * The composition root: the only place that knows which drivers exist and wires them together.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Log } from '../../drivers/common/log.ts';
import { createIndicator } from '../../drivers/indicator/factory.ts';
import type { Indicator } from '../../drivers/indicator/types.ts';
import type { Scanner } from '../../drivers/scanner/types.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { nobleProvider } from '../core/crypto/noble.ts';
import { BoxError } from '../core/errors.ts';
import { parseAmount } from '../core/money.ts';
import type { AmountSource, Policy } from '../core/views.ts';
import { createNodeProvider } from '../crypto/node-provider.ts';
import { openSqliteJournal } from '../journal/sqlite-journal.ts';
import { checkStateDirSafe } from '../journal/storage-safety.ts';
import type { Journal } from '../journal/types.ts';
import { FileKeyStore } from '../keys/file-keystore.ts';
import { Acceptor, type AcceptorEvents, patternForOutcome, type ScanOutcome } from './acceptor.ts';
import { BoxClock } from './clock.ts';
import type { BoxConfig } from './config.ts';
import { DEMO_HINT, ensureDemo } from './demo.ts';
import { revocationView, storedRevocations } from './revocation-view.ts';
import { type OnlineDemo, startOnlineDemo } from './demo-backend.ts';
import { startHousekeeping } from './housekeeping.ts';
import { startBoxServices } from './control/box-services.ts';
import { createNfcReader, NfcService } from './nfc-service.ts';
import { NfcSessionStore } from './nfc-sessions.ts';
import { ChargeBook } from './pos/charge-book.ts';
import { type PosLinkHandle, startPosLink } from './pos/start.ts';
import { WriterQueue } from './pos/writer-queue.ts';
import { loadProvisioned } from './provision.ts';
import { createScanner } from './scanner-factory.ts';
import { type RunningSync, startSync } from '../sync/start-sync.ts';

/** No true time is earlier than this: the protocol's release date. */
const BUILD_FLOOR_MS = Date.UTC(2026, 10, 1);
const LAST_OUTCOME_REPLAY_MS = 60_000;

export interface Box {
  acceptor: Acceptor;
  journal: Journal;
  indicator: Indicator;
  scanner: Scanner;
  clock: BoxClock;
  sessions: NfcSessionStore;
  provider: CryptoProvider;
  /** Reconciliation with the back end; absent when the config has no `sync` section (offline box). */
  sync?: RunningSync;
  /** The single writer: scans, POS commands and NFC taps run as its tasks (pos/writer-queue.ts). */
  queue: WriterQueue;
  charges: ChargeBook;
  pos?: PosLinkHandle;
  nfc?: NfcService;
  stop(): Promise<void>;
  /** Sets the pending charge (POS mode); null clears it. */
  setCharge(charge: { chargeId: string; amount: number; currency: string } | null): void;
}

export interface BoxOptions {
  log: Log;
  events?: AcceptorEvents;
  onScan?: (text: string, outcome: ScanOutcome, receivedAtNs: bigint) => void;
}

function policyOf(cfg: BoxConfig): Policy {
  return {
    freshnessMs: cfg.policy.freshnessSec * 1000,
    futureSkewMs: cfg.policy.futureSkewSec * 1000,
    revocationMaxAgeMs: cfg.policy.revocationMaxAgeHours * 3600_000,
    requireChallenge: cfg.policy.requireChallenge,
  };
}

export async function startBox(cfg: BoxConfig, opts: BoxOptions): Promise<Box> {
  const log = opts.log;
  const stateDir = resolve(cfg.stateDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (!cfg.allowVolatileState) checkStateDirSafe(stateDir);
  const p = cfg.crypto === 'node' ? createNodeProvider() : nobleProvider;
  // Embedded default: the local reference back end in-process, this box enrolled online with it
  // (it may move a stale older demo state dir aside, so it runs before the journal opens).
  const onlineDemo: OnlineDemo | undefined = cfg.demo?.backend
    ? await startOnlineDemo({ p, stateDir, demo: { ...cfg.demo, backend: cfg.demo.backend, currency: cfg.currency }, log })
    : undefined;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const syncConfig = cfg.sync ?? onlineDemo?.sync;
  const store = new FileKeyStore({ stateDir });
  const journal = openSqliteJournal({ path: resolve(stateDir, 'journal.db'), retentionMs: cfg.journal.retentionDays * 86400_000 });
  const clock = new BoxClock({
    wallNow: Date.now,
    monoNow: () => performance.now(),
    loadLastKnownGood: () => journal.getMeta('clock.lastKnownGoodMs') as number | undefined,
    saveLastKnownGood: (ms) => journal.setMeta('clock.lastKnownGoodMs', ms),
    floorMs: BUILD_FLOOR_MS,
    systemClockSynced: () => existsSync('/run/systemd/timesync/synchronized'),
  });
  const nowSec = () => Math.floor(clock.nowMs() / 1000);

  if (cfg.demo && !onlineDemo) {
    ensureDemo(p, store, { ...cfg.demo, currency: cfg.currency }, nowSec(), log);
    // The offline demo has no back end: it refreshes its own (empty) revocation list at every start.
    // With a back end (onlineDemo or cfg.sync) the list comes from it.
    if (!syncConfig) journal.setMeta('revocations', { version: 1, issuedAtMs: clock.nowMs(), wallets: [] });
  }
  const { identity } = loadProvisioned(store, p, nowSec());
  if (identity.ownCard.currency !== cfg.currency) {
    throw new BoxError('CONFIG_INVALID', `config: currency ${cfg.currency} differs from the identity card's ${identity.ownCard.currency}`);
  }
  const sessions = new NfcSessionStore(() => clock.view().lowerMs);

  let charge: AmountSource = { kind: 'none' };
  if (cfg.amount.mode === 'fixed') {
    const price = parseAmount(cfg.amount.price, identity.ownCard.currencyExponent);
    if (price === null || price === 0) throw new BoxError('CONFIG_INVALID', `config: amount.price ${cfg.amount.price} is not a positive amount in ${identity.ownCard.currency}`);
    charge = { kind: 'fixed', amount: price, currency: cfg.currency };
  }

  const applyCharge = (c: { chargeId: string; amount: number; currency: string } | null): void => {
    if (charge.kind === 'charge') sessions.closeForCharge(charge.chargeId);
    charge = c ? { kind: 'charge', ...c } : cfg.amount.mode === 'fixed' ? charge : { kind: 'none' };
  };
  const queue = new WriterQueue(log);
  const charges = new ChargeBook({
    journal,
    sessions,
    device: identity.device,
    nowMs: () => clock.nowMs(),
    log,
    currency: cfg.currency,
    mode: cfg.amount.mode,
    ...(charge.kind === 'fixed' ? { fixedPrice: { amount: charge.amount, currency: charge.currency } } : {}),
    activate: applyCharge,
  });
  charges.reconcile();

  const indicator = await createIndicator(cfg.indicator, { log });
  await indicator.open();
  const acceptor = new Acceptor({
    p,
    journal,
    keys: { decryptionKeys: identity.decryptionKeys, receivers: identity.receivers, roster: identity.roster, device: identity.device, deviceKeyId: identity.deviceKeyId, sessions },
    issuers: identity.issuers,
    clock,
    indicator,
    log,
    policy: policyOf(cfg),
    repeatWindowMs: cfg.repeatWindowMs,
    amountSource: () => charge,
    revocations: revocationView(journal),
    closeSession: (k) => sessions.close(k),
    events: {
      paid: (e) => {
        charges.onPaid(e);
        opts.events?.paid?.(e);
      },
      declined: (e) => {
        charges.onDeclined(e);
        opts.events?.declined?.(e);
      },
    },
  });

  // A crash between commit and beep must not make the merchant charge twice: replay the last outcome.
  const last = journal.latestOutcome();
  indicator.setBase('ready');
  const replayLast = last !== undefined && clock.nowMs() - last.atMs < LAST_OUTCOME_REPLAY_MS;
  if (last && replayLast) {
    log.info({ event: 'startup.replay-outcome', kind: last.kind, code: last.code, debitId: last.debitId }, 'repeating the last outcome after restart');
    indicator.show(patternForOutcome(last));
  }

  const scanner = await createScanner(cfg.scanner, log);
  scanner.onLine((text, meta) => {
    queue.run('scan', () => acceptor.handleScan(text)).then(
      (outcome) => opts.onScan?.(text, outcome, meta.receivedAtNs),
      () => {},
    );
  });
  scanner.onStatus((s) => log.info({ event: 'scanner.status', state: s.state, attempt: s.attempt, detail: s.detail }, `scanner ${s.state}`));
  await scanner.open();
  // setBase() only switches a base that is showing; at start nothing is, so show it (a replayed outcome returns to it by itself).
  if (!replayLast) indicator.show('ready');

  const stopHousekeeping = startHousekeeping({ journal, stateDir, clock: () => clock.view(), log, lowDiskBytes: cfg.journal.lowDiskMb * 1024 * 1024 });
  const pos = cfg.pos ? await startPosLink(cfg.pos, { book: charges, queue, journal, p, log }) : undefined;
  let nfc: NfcService | undefined;
  if (cfg.nfc.enabled) {
    nfc = new NfcService({
      p,
      reader: createNfcReader(cfg.nfc, log),
      sessions,
      ownCard: identity.ownCard,
      device: identity.device,
      now: () => clock.view().lowerMs,
      queue,
      offer: () => charges.offerForTap(),
      log,
      ttlSeconds: cfg.nfc.sessionTtlSec,
    });
    if (!(await nfc.start())) nfc = undefined;
  }

  const persistTimer = setInterval(() => {
    try {
      clock.persist();
    } catch (e) {
      log.warn({ event: 'clock.persist-failed', code: 'JOURNAL_IO', err: e instanceof Error ? e.message : String(e) }, 'cannot persist the last-known-good time');
    }
  }, 60_000);
  persistTimer.unref();
  clock.persist();
  // Reconciliation (device/sync): time -> revocations -> upload -> updates whenever the link is up.
  const sync = syncConfig ? await startSync(syncConfig, { p, journal, clock, indicator, identity, store, log }) : undefined;
  if (!sync) {
    const rev = storedRevocations(journal);
    const ageH = rev ? (clock.view().lowerMs - rev.issuedAtMs) / 3600_000 : Number.POSITIVE_INFINITY;
    if (ageH > cfg.policy.revocationMaxAgeHours) {
      log.warn(
        { event: 'box.no-sync', code: 'REVOCATION_STALE', listVersion: rev?.version ?? null },
        'no "sync" section and no fresh revocation list: every payment will be declined REVOCATION_STALE until the box syncs (see scanner provision)',
      );
    }
  }
  // Control socket, then READY=1 and the watchdog: systemd sees "ready" only once payments work.
  const nfcStatus = nfc ? () => nfc?.status ?? { state: 'starting', readers: [] } : undefined;
  // The service self-test probes the back end this box syncs with, the demo's in-process one included.
  const servicesCfg = syncConfig && !cfg.sync ? { ...cfg, sync: syncConfig } : cfg;
  const services = await startBoxServices({ cfg: servicesCfg, log, journal, clock, indicator, scanner, card: identity.ownCard, store, provider: p, ...(nfcStatus ? { nfcStatus } : {}) });
  log.info(
    { event: 'box.ready', merchantId: identity.merchantId, card: identity.ownCard.serial, till: identity.ownCard.tillId, scanner: cfg.scanner.kind, indicator: cfg.indicator.kind, crypto: p.name },
    'box ready',
  );
  if (cfg.demo) process.stdout.write(`\n${DEMO_HINT}${onlineDemo ? ` (the local back end at ${onlineDemo.url} settles it within ${syncConfig?.intervalSec ?? 10} s)` : ''}\n\n`);

  return {
    acceptor,
    journal,
    indicator,
    scanner,
    clock,
    sessions,
    provider: p,
    ...(sync ? { sync } : {}),
    queue,
    charges,
    ...(pos ? { pos } : {}),
    ...(nfc ? { nfc } : {}),
    setCharge: applyCharge,
    async stop() {
      await sync?.stop();
      await onlineDemo?.close();
      await services.stop();
      clearInterval(persistTimer);
      await pos?.close();
      await nfc?.stop();
      stopHousekeeping();
      await scanner.close();
      clock.persist();
      await indicator.close();
      journal.close();
    },
  };
}
