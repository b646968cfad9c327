import { describe, expect, it } from 'vitest';
import { silentLog } from '../../drivers/common/log.ts';
import { SyncConfigSchema } from '../../device/sync/config-schema.ts';
import { createConnectivity } from '../../device/sync/start-sync.ts';

const key = { keyId: '01'.repeat(8), publicKey: '02'.repeat(32) };

describe('sync config section', () => {
  it('fills defaults: always-up link, 60 s interval, 15 min backlog alert', () => {
    expect(SyncConfigSchema.parse({ backendUrl: 'http://127.0.0.1:8420', backendKey: key })).toEqual({
      backendUrl: 'http://127.0.0.1:8420',
      backendKey: key,
      intervalSec: 60,
      timeoutSec: 20,
      backlogAlertMin: 15,
      maxBatchEntries: 500,
      maxBatchBytes: 131072,
      connectivity: { kind: 'always' },
    });
  });

  it('refuses unknown keys, a bad pinned key and an unknown connectivity kind', () => {
    expect(SyncConfigSchema.safeParse({ backendUrl: 'http://x', backendKey: key, extra: 1 }).success).toBe(false);
    expect(SyncConfigSchema.safeParse({ backendUrl: 'http://x', backendKey: { ...key, publicKey: 'zz' } }).success).toBe(false);
    expect(SyncConfigSchema.safeParse({ backendUrl: 'http://x', backendKey: key, connectivity: { kind: 'carrier-pigeon' } }).success).toBe(false);
    expect(SyncConfigSchema.safeParse({ backendUrl: 'http://x', backendKey: key, connectivity: { kind: 'at' } }).success).toBe(false);
  });

  it('builds the configured connectivity: always is up; reachability of a dead port is down', async () => {
    const always = await createConnectivity({ kind: 'always' }, 'http://127.0.0.1:9', silentLog);
    await always.open();
    await expect(always.check()).resolves.toMatchObject({ up: true, source: 'always' });
    const reach = await createConnectivity({ kind: 'reachability', timeoutMs: 1000 }, 'http://127.0.0.1:9', silentLog);
    await reach.open();
    await expect(reach.check()).resolves.toMatchObject({ up: false, source: 'reachability', code: 'BACKEND_UNREACHABLE' });
  });
});
