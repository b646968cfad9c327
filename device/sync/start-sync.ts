/**
 * Builds the sync side from the `sync` config section and the box's parts (called by box.ts).
 * Drivers load lazily: the AT modem pulls in serialport only when configured.
 */
import type { Log } from '../../drivers/common/log.ts';
import type { Pattern } from '../../drivers/indicator/types.ts';
import type { Connectivity } from '../../drivers/modem/types.ts';
import type { CryptoProvider } from '../core/crypto/provider.ts';
import { fromHex } from '../core/encoding/bytes.ts';
import type { Journal } from '../journal/types.ts';
import type { KeyStore } from '../keys/types.ts';
import type { BoxIdentity } from '../app/box-identity.ts';
import { BUNDLE_NAME, importBundle } from '../app/provision.ts';
import { systemSyncTimers } from './backoff.ts';
import { SyncClient } from './client.ts';
import type { ConnectivityConfig, SyncConfig } from './config-schema.ts';
import type { BundleStore } from './downloads.ts';
import { bundleKeyStore } from './key-rollover.ts';
import { SyncService } from './sync-service.ts';
import { Uploader } from './uploader.ts';

export interface SyncDeps {
  p: CryptoProvider;
  journal: Journal;
  clock: { applySignedTime(ms: number): void; noteNetworkTime(ms: number): string; nowMs(): number };
  indicator: { setBase(p: Pattern): void };
  identity: BoxIdentity;
  store: KeyStore;
  log: Log;
}

export interface RunningSync {
  service: SyncService;
  client: SyncClient;
  uploader: Uploader;
  connectivity: Connectivity;
  stop(): Promise<void>;
}

export async function createConnectivity(c: ConnectivityConfig, backendUrl: string, log: Log): Promise<Connectivity> {
  const health = `${backendUrl.replace(/\/+$/, '')}/v1/health`;
  switch (c.kind) {
    case 'always': {
      const { AlwaysConnectivity } = await import('../../drivers/modem/reachability.ts');
      return new AlwaysConnectivity();
    }
    case 'reachability': {
      const { HttpReachability, ReachabilityConnectivity } = await import('../../drivers/modem/reachability.ts');
      return new ReachabilityConnectivity(new HttpReachability({ url: c.url ?? health, timeoutMs: c.timeoutMs }));
    }
    case 'mmcli': {
      const { MmcliConnectivity } = await import('../../drivers/modem/mmcli.ts');
      return new MmcliConnectivity({ modem: c.modem, timeoutMs: c.timeoutMs, log });
    }
    case 'at': {
      const { AtModem } = await import('../../drivers/modem/at-modem.ts');
      const { HttpReachability } = await import('../../drivers/modem/reachability.ts');
      return new AtModem({ path: c.path, vendor: c.vendor, baudRate: c.baudRate, log, ...(c.probeBackend ? { reachability: new HttpReachability({ url: health }) } : {}) });
    }
  }
}

export async function startSync(cfg: SyncConfig, d: SyncDeps): Promise<RunningSync> {
  const log = d.log.child({ part: 'sync' });
  const client = new SyncClient({
    baseUrl: cfg.backendUrl,
    p: d.p,
    device: d.identity.device,
    deviceKeyId: d.identity.deviceKeyId,
    backendKey: { keyId: cfg.backendKey.keyId, publicKey: fromHex(cfg.backendKey.publicKey) },
    issuers: () => d.identity.issuers,
    timeoutMs: cfg.timeoutSec * 1000,
    ...(cfg.tls ? { tlsPins: cfg.tls.spkiSha256 } : {}),
    log,
  });
  const uploader = new Uploader({
    journal: d.journal,
    sender: client,
    device: d.identity.device,
    deviceKeyId: d.identity.deviceKeyId,
    maxEntries: cfg.maxBatchEntries,
    maxBytes: cfg.maxBatchBytes,
    random: Math.random,
    timers: systemSyncTimers,
    log,
  });
  const bundles: BundleStore = {
    current: () => d.store.readPublic(BUNDLE_NAME),
    importVerified: (b) => {
      importBundle(d.store, d.p, b, Math.floor(d.clock.nowMs() / 1000));
    },
    trusted: () => ({ authorities: new Set(d.identity.authorities.keys()), issuers: new Set(d.identity.issuers.keys()) }),
    keys: { p: d.p, ...bundleKeyStore(d.store, d.identity) },
  };
  const connectivity = await createConnectivity(cfg.connectivity, cfg.backendUrl, log);
  try {
    await connectivity.open();
  } catch (e) {
    // The box still takes payments offline; check() reports NOT_OPEN and nothing is sent.
    log.error({ event: 'sync.connectivity-open-failed', kind: cfg.connectivity.kind, code: (e as { code?: string }).code }, (e as Error).message);
  }
  const service = new SyncService({
    connectivity,
    api: client,
    uploader,
    journal: d.journal,
    bundles,
    clock: d.clock,
    indicator: d.indicator,
    intervalMs: cfg.intervalSec * 1000,
    backlogAlertMs: cfg.backlogAlertMin * 60_000,
    timers: systemSyncTimers,
    log,
    // NITZ is a hint only: it may narrow the upper clock bound, never reaches applySignedTime (last-known-good stays put).
    onNetworkTime: (ms) => log.debug({ event: 'sync.network-time', networkTimeMs: ms, outcome: d.clock.noteNetworkTime(ms) }, 'modem network time (hint only)'),
  });
  service.start();
  log.info({ event: 'sync.started', backend: cfg.backendUrl, connectivity: cfg.connectivity.kind, intervalSec: cfg.intervalSec, tlsPins: cfg.tls?.spkiSha256.length ?? 0 }, 'reconciliation started');
  return {
    service,
    client,
    uploader,
    connectivity,
    async stop() {
      await service.stop();
      client.close();
      await connectivity.close();
    },
  };
}
