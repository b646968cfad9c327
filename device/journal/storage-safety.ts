/**
 * Is the state directory on storage that survives a power cut? A journal on tmpfs, ramfs or an
 * overlay (overlayroot puts a tmpfs upper layer over a read-only root) silently loses every
 * debit at reboot, so the box refuses to start there (BoxError 'UNSAFE_STORAGE').
 */
import { existsSync, readFileSync, realpathSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { BoxError } from '../core/errors.ts';

/** File system types whose content is gone after a reboot (or lives in RAM). */
export const VOLATILE_FS_TYPES: ReadonlySet<string> = new Set(['tmpfs', 'ramfs', 'overlay', 'overlayfs', 'aufs', 'squashfs', 'devtmpfs']);

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-mount options, e.g. ['rw', 'relatime']. */
  options: string[];
}

/** Decodes the octal escapes the kernel writes for space, tab, newline and backslash. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (proc(5)). Malformed lines are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 10 || sep < 0 || sep + 2 >= fields.length) continue;
    out.push({
      mountPoint: unescapeMountField(fields[4]!),
      options: fields[5]!.split(','),
      fsType: fields[sep + 1]!,
      source: unescapeMountField(fields[sep + 2]!),
    });
  }
  return out;
}

/** The mount holding `realPath`: the longest mount point that is `realPath` or a parent of it (the last one wins on ties). */
export function findMount(entries: readonly MountEntry[], realPath: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of entries) {
    const mp = m.mountPoint;
    const covers = mp === '/' || realPath === mp || realPath.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (covers && (best === undefined || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export interface StateDirCheckOptions {
  /** Content of /proc/self/mountinfo (tests inject samples). */
  mountinfo?: string;
  /** Resolve symlinks (default fs.realpathSync on the nearest existing ancestor). */
  realpath?: (p: string) => string;
  /** Accept when mountinfo cannot be read (development on a non-Linux host). Default false. */
  allowUnverified?: boolean;
}

export interface StateDirCheck {
  dir: string;
  realPath: string;
  mount: MountEntry | undefined;
  verified: boolean;
}

function realpathOfNearestExisting(p: string): string {
  let cur = path.resolve(p);
  const rest: string[] = [];
  while (!existsSync(cur)) {
    const parent = path.dirname(cur);
    if (parent === cur) break;
    rest.unshift(path.basename(cur));
    cur = parent;
  }
  return path.join(realpathSync(cur), ...rest);
}

/** Throws BoxError 'UNSAFE_STORAGE' when `dir` lives on volatile or read-only storage. */
export function checkStateDirSafe(dir: string, options: StateDirCheckOptions = {}): StateDirCheck {
  const realPath = (options.realpath ?? realpathOfNearestExisting)(dir);
  let text = options.mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch (e) {
      if (options.allowUnverified) return { dir, realPath, mount: undefined, verified: false };
      throw new BoxError('UNSAFE_STORAGE', `checkStateDirSafe: cannot read /proc/self/mountinfo to check ${JSON.stringify(dir)}`, { cause: e });
    }
  }
  const mount = findMount(parseMountinfo(text), realPath);
  if (mount === undefined) {
    if (options.allowUnverified) return { dir, realPath, mount, verified: false };
    throw new BoxError('UNSAFE_STORAGE', `checkStateDirSafe: no mount found for ${JSON.stringify(realPath)}`);
  }
  if (VOLATILE_FS_TYPES.has(mount.fsType)) {
    throw new BoxError(
      'UNSAFE_STORAGE',
      `checkStateDirSafe: ${JSON.stringify(realPath)} is on ${mount.fsType} (mounted at ${JSON.stringify(mount.mountPoint)}); ` +
        'debits would be lost at power-off. Put the state directory on a persistent data partition',
    );
  }
  if (mount.options.includes('ro')) {
    throw new BoxError('UNSAFE_STORAGE', `checkStateDirSafe: ${JSON.stringify(realPath)} is on a read-only mount (${JSON.stringify(mount.mountPoint)})`);
  }
  return { dir, realPath, mount, verified: true };
}

export interface DiskSpace {
  /** Bytes an unprivileged process may still write. */
  freeBytes: number;
  totalBytes: number;
}

export function diskSpace(dir: string): DiskSpace {
  const s = statfsSync(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

export interface LowDiskThreshold {
  /** Warn below this many free bytes (default 64 MiB). */
  minFreeBytes?: number;
  /** Warn below this fraction free (default 0.05). */
  minFreeFraction?: number;
}

/** A warning text when free space is below either threshold, otherwise undefined. */
export function lowDiskWarning(space: DiskSpace, threshold: LowDiskThreshold = {}): string | undefined {
  const minBytes = threshold.minFreeBytes ?? 64 * 1024 * 1024;
  const minFraction = threshold.minFreeFraction ?? 0.05;
  const fraction = space.totalBytes > 0 ? space.freeBytes / space.totalBytes : 0;
  if (space.freeBytes < minBytes || fraction < minFraction) {
    const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);
    return `low disk space: ${mib(space.freeBytes)} MiB free of ${mib(space.totalBytes)} MiB (${(fraction * 100).toFixed(1)}%)`;
  }
  return undefined;
}
