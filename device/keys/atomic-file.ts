/**
 * Crash-safe small-file writes: write a temp file in the same directory, fsync it, move it
 * into place (rename, or link when the target must not be overwritten), fsync the directory.
 * After a power cut the target holds either the old content or the new one, never a mix.
 */
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { BoxError } from '../core/errors.ts';

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface AtomicWriteOptions {
  /** File mode, applied with fchmod so the umask cannot change it. */
  mode: number;
  /** Fail with KEY_EXISTS instead of replacing an existing file (uses link(2), atomic). */
  noClobber?: boolean;
}

export function writeFileAtomic(target: string, data: Uint8Array, options: AtomicWriteOptions): void {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', options.mode);
    fchmodSync(fd, options.mode);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (options.noClobber) {
      try {
        linkSync(tmp, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new BoxError('KEY_EXISTS', `writeFileAtomic: ${JSON.stringify(target)} already exists; refusing to overwrite`);
        }
        throw e;
      }
      unlinkSync(tmp);
    } else {
      renameSync(tmp, target);
    }
    fsyncDir(dir);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already moved or never created
    }
    if (e instanceof BoxError) throw e;
    throw new BoxError('KEY_IO', `writeFileAtomic: cannot write ${JSON.stringify(target)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
  }
}
