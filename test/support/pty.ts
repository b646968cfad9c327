import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

/** True when the `socat` binary is on PATH (Debian package `socat`). */
export function socatAvailable(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

export interface PtyPair {
  /** Symlink to one end (give this to the driver). */
  a: string;
  /** Symlink to the other end (the test writes here as the "scanner"). */
  b: string;
  pid: number;
  /** Kills this socat process (by its pid) and waits for it to exit; the links disappear. */
  stop(): Promise<void>;
}

/**
 * Starts `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B` and resolves once socat
 * reports its transfer loop is running, i.e. both links exist.
 */
export async function startPtyPair(a: string, b: string, timeoutMs = 5000): Promise<PtyPair> {
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`startPtyPair: socat not ready after ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`startPtyPair: cannot run socat (apt install socat): ${e.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`startPtyPair: socat exited with ${code}: ${stderr}`));
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('starting data transfer loop')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stderr!.resume();
  return {
    a,
    b,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
