import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BoxError } from '../../device/core/errors.ts';
import { checkStateDirSafe, diskSpace, findMount, lowDiskWarning, parseMountinfo } from '../../device/journal/storage-safety.ts';

// Raspberry Pi OS with overlayroot: "/" is an overlay, the data partition is ext4 on /data,
// /run and /tmp are tmpfs. Fields: id parent maj:min root mountpoint options [optional...] - fstype source superoptions
const PI_OVERLAYROOT = [
  '22 1 0:21 / / rw,relatime shared:1 - overlay overlayroot rw,lowerdir=/media/root-ro,upperdir=/media/root-rw/overlay',
  '23 22 179:2 / /media/root-ro ro,relatime shared:2 - ext4 /dev/mmcblk0p2 ro',
  '24 22 0:22 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=189000k,mode=755',
  '25 22 179:3 / /data rw,noatime shared:7 - ext4 /dev/mmcblk0p3 rw',
  '26 22 0:23 / /tmp rw,nosuid,nodev shared:8 - tmpfs tmpfs rw',
  '27 25 0:24 / /data/scratch rw - ramfs ramfs rw',
  '28 22 179:4 / /mnt/my\\040data rw,noatime - ext4 /dev/mmcblk0p4 rw',
  '29 22 179:5 / /srv/ro rw,noatime - ext4 /dev/mmcblk0p5 ro',
  '30 22 179:6 / /srv/romount ro,noatime - ext4 /dev/mmcblk0p6 rw',
  'garbage line',
  '',
].join('\n');

const identity = (p: string) => p;

function refusal(dir: string): BoxError {
  try {
    checkStateDirSafe(dir, { mountinfo: PI_OVERLAYROOT, realpath: identity });
  } catch (e) {
    expect(e).toBeInstanceOf(BoxError);
    return e as BoxError;
  }
  throw new Error(`expected ${dir} to be refused`);
}

describe('storage safety', () => {
  it('parses mountinfo, decoding escaped spaces and skipping garbage', () => {
    const entries = parseMountinfo(PI_OVERLAYROOT);
    expect(entries).toHaveLength(9);
    expect(entries[3]).toEqual({ mountPoint: '/data', fsType: 'ext4', source: '/dev/mmcblk0p3', options: ['rw', 'noatime'] });
    expect(entries[6]?.mountPoint).toBe('/mnt/my data');
  });

  it('finds the longest mount point on a path boundary', () => {
    const entries = parseMountinfo(PI_OVERLAYROOT);
    expect(findMount(entries, '/data/box/state')?.mountPoint).toBe('/data');
    expect(findMount(entries, '/database')?.mountPoint).toBe('/'); // not /data
    expect(findMount(entries, '/data/scratch/x')?.fsType).toBe('ramfs');
  });

  it('accepts a state directory on ext4', () => {
    const r = checkStateDirSafe('/data/qrpay', { mountinfo: PI_OVERLAYROOT, realpath: identity });
    expect(r).toMatchObject({ verified: true, mount: { fsType: 'ext4', mountPoint: '/data' } });
    expect(checkStateDirSafe('/mnt/my data/box', { mountinfo: PI_OVERLAYROOT, realpath: identity }).mount?.source).toBe('/dev/mmcblk0p4');
  });

  it('refuses tmpfs, ramfs and overlay with UNSAFE_STORAGE naming the fs type', () => {
    for (const [dir, fs] of [
      ['/run/qrpay', 'tmpfs'],
      ['/tmp/x', 'tmpfs'],
      ['/data/scratch/j', 'ramfs'],
      ['/var/lib/qrpay', 'overlay'],
    ] as const) {
      const e = refusal(dir);
      expect(e.code).toBe('UNSAFE_STORAGE');
      expect(e.message).toContain(fs);
    }
  });

  it('refuses a mount whose per-mount options say ro (super options alone do not)', () => {
    expect(refusal('/srv/romount/x').message).toMatch(/read-only/);
    expect(checkStateDirSafe('/srv/ro/x', { mountinfo: PI_OVERLAYROOT, realpath: identity }).verified).toBe(true);
  });

  it('resolves symlinks before looking up the mount', () => {
    const e = (() => {
      try {
        checkStateDirSafe('/data/link-to-run', { mountinfo: PI_OVERLAYROOT, realpath: () => '/run/qrpay' });
      } catch (err) {
        return err as BoxError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('UNSAFE_STORAGE');
  });

  it('refuses when no mount matches unless unverified storage is allowed', () => {
    expect(() => checkStateDirSafe('/data/x', { mountinfo: '', realpath: identity })).toThrow(/no mount found/);
    expect(checkStateDirSafe('/data/x', { mountinfo: '', realpath: identity, allowUnverified: true }).verified).toBe(false);
  });

  it('checks a real, not yet existing directory against this machine', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'state-'));
    try {
      const r = (() => {
        try {
          return checkStateDirSafe(path.join(dir, 'not', 'yet'));
        } catch (e) {
          return e as BoxError;
        }
      })();
      // whatever this host is, the answer is either a verified mount or an UNSAFE_STORAGE refusal
      if (r instanceof BoxError) expect(r.code).toBe('UNSAFE_STORAGE');
      else expect(r.realPath.endsWith(path.join('not', 'yet'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports disk space and warns below the thresholds', () => {
    const s = diskSpace(tmpdir());
    expect(s.totalBytes).toBeGreaterThan(0);
    expect(s.freeBytes).toBeLessThanOrEqual(s.totalBytes);
    const MiB = 1024 * 1024;
    expect(lowDiskWarning({ freeBytes: 1000 * MiB, totalBytes: 8000 * MiB })).toBeUndefined();
    expect(lowDiskWarning({ freeBytes: 10 * MiB, totalBytes: 8000 * MiB })).toMatch(/10\.0 MiB free/);
    expect(lowDiskWarning({ freeBytes: 100 * MiB, totalBytes: 8000 * MiB })).toMatch(/1\.3%/);
    expect(lowDiskWarning({ freeBytes: 100 * MiB, totalBytes: 8000 * MiB }, { minFreeFraction: 0.01 })).toBeUndefined();
  });
});
