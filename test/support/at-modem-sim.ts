/**
 * An AT modem simulator behind a real pty pair. `socat` links <dir>/modem (the driver opens it, like
 * /dev/lte-at) to <dir>/sim, where this simulator answers AT commands through node serialport.
 * Needs socat on PATH (Debian package socat).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

export interface AtModemSimState {
  /** +CEREG <stat>: 0 not registered, 1 home, 2 searching, 3 denied, 5 roaming. */
  stat: number;
  /** +CSQ <rssi>: 0..31 or 99 (unknown). */
  csq: number;
  /** Operator for +COPS?; null means none selected (`+COPS: 0`). */
  operator: string | null;
  /** Body of +QLTS (GMT, Quectel) such as "2026/11/25,10:00:00+32,0"; null means no NITZ (`+QLTS: ""`). */
  qlts: string | null;
  /** Body of +CCLK (local time), e.g. "26/11/25,18:00:00+32"; the RTC default when there is no NITZ. */
  cclk: string;
  /** 'simcom' answers ERROR to AT+QLTS. */
  vendor: 'quectel' | 'simcom';
  /** Echo the command (ATE1 / ATE0 change it). */
  echo: boolean;
  /** Delay before each answer, ms. */
  delayMs: number;
  /** Never answer anything (timeout tests). */
  mute: boolean;
}

export const DEFAULT_SIM_STATE: AtModemSimState = {
  stat: 1,
  csq: 20,
  operator: 'SimNet',
  qlts: '2026/11/25,10:00:00+32,0',
  cclk: '26/11/25,18:00:00+32',
  vendor: 'quectel',
  echo: false,
  delayMs: 0,
  mute: false,
};

export interface AtModemSim {
  /** The path a driver opens (the socat link <dir>/modem). */
  path: string;
  set(state: Partial<AtModemSimState>): void;
  readonly state: Readonly<AtModemSimState>;
  /** Every command received, in order. */
  readonly commands: string[];
  stop(): Promise<void>;
}

export interface StartAtModemSimOptions extends Partial<AtModemSimState> {
  /** Directory for the two pty links (a fresh temp dir per test). */
  dir: string;
  /** How long to wait for socat to create the links, default 5000 ms. */
  startTimeoutMs?: number;
}

function waitForLinks(proc: ChildProcess, paths: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = (): void => {
      if (proc.exitCode !== null) reject(new Error(`startAtModemSim: socat exited ${proc.exitCode}`));
      else if (paths.every((p) => existsSync(p))) resolve();
      else if (Date.now() - t0 > timeoutMs) reject(new Error(`startAtModemSim: no pty links after ${timeoutMs} ms`));
      else setTimeout(poll, 20);
    };
    proc.once('error', reject);
    poll();
  });
}

/** Start socat and the simulator; resolves once the driver side path exists and the sim side is open. */
export async function startAtModemSim(opts: StartAtModemSimOptions): Promise<AtModemSim> {
  const { dir, startTimeoutMs = 5000, ...initial } = opts;
  const path = join(dir, 'modem');
  const simPath = join(dir, 'sim');
  const state: AtModemSimState = { ...DEFAULT_SIM_STATE, ...initial };
  const commands: string[] = [];
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${path}`, `pty,raw,echo=0,link=${simPath}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr?.resume();
  try {
    await waitForLinks(proc, [path, simPath], startTimeoutMs);
  } catch (e) {
    proc.kill();
    throw e;
  }
  const port = new SerialPort({ path: simPath, baudRate: 115200, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((err) => (err ? rej(err) : res())));
  port.on('error', () => {}); // socat going away closes the pty under us

  const reply = (lines: string[], final: string): string =>
    lines.map((l) => `\r\n${l}\r\n`).join('') + `\r\n${final}\r\n`;

  const answer = (cmd: string): string => {
    const c = cmd.toUpperCase();
    if (c === 'AT') return reply([], 'OK');
    if (c === 'ATE0' || c === 'ATE1') {
      state.echo = c === 'ATE1';
      return reply([], 'OK');
    }
    if (c === 'AT+CEREG?') return reply([`+CEREG: 0,${state.stat}`], 'OK');
    if (c === 'AT+CSQ') return reply([`+CSQ: ${state.csq},99`], 'OK');
    if (c === 'AT+COPS?') return reply([state.operator === null ? '+COPS: 0' : `+COPS: 0,0,"${state.operator}",7`], 'OK');
    if (c === 'AT+QLTS=1' && state.vendor === 'quectel') return reply([`+QLTS: "${state.qlts ?? ''}"`], 'OK');
    if (c === 'AT+CTZU=3') return reply([], 'OK');
    if (c === 'AT+CCLK?') return reply([`+CCLK: "${state.cclk}"`], 'OK');
    return reply([], 'ERROR');
  };

  let rx = '';
  port.on('data', (chunk: Buffer) => {
    rx += chunk.toString('latin1');
    const parts = rx.split(/\r\n|\r|\n/);
    rx = parts.pop() ?? '';
    for (const raw of parts) {
      const cmd = raw.trim();
      if (cmd === '') continue;
      commands.push(cmd);
      if (state.mute) continue;
      const out = (state.echo ? `${cmd}\r` : '') + answer(cmd);
      const send = (): void => {
        if (port.isOpen) port.write(out);
      };
      if (state.delayMs > 0) setTimeout(send, state.delayMs);
      else send();
    }
  });

  return {
    path,
    state,
    commands,
    set(s) {
      Object.assign(state, s);
    },
    async stop() {
      if (port.isOpen) await new Promise<void>((res) => port.close(() => res()));
      if (proc.exitCode === null) {
        const exited = new Promise<void>((res) => proc.once('exit', () => res()));
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}
