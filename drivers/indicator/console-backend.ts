import type { Log } from '../common/log.ts';
import { silentLog } from '../common/log.ts';
import type { IndicatorBackend, Output, Pattern, Tone } from './types.ts';
import { ALL_OUTPUTS } from './types.ts';

/** The part of a writable stream this backend needs (process.stdout, a buffer in tests). */
export interface TextSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface ConsoleBackendOptions {
  /** Default process.stdout. */
  stream?: TextSink;
  outputs?: readonly Output[];
  /** Also print one line per toggle (`[LED] green ON`, `[BEEP] 80ms`); default false: one line per pattern. */
  verbose?: boolean;
  /** Colours: default only when the stream is a TTY. */
  color?: boolean;
  now?: () => number;
  log?: Log;
}

const ANSI: Record<string, string> = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  amber: '\x1b[33m',
  blue: '\x1b[34m',
  buzzer: '\x1b[35m',
};
const RESET = '\x1b[0m';

function patternColor(p: Pattern): string {
  switch (p) {
    case 'ready':
    case 'busy':
    case 'accepted':
      return 'green';
    case 'declined-customer':
    case 'declined-retry':
    case 'declined-fault':
    case 'fault':
      return 'red';
    case 'offline-backlog':
      return 'amber';
  }
}

/**
 * The embedded default when the box has no LEDs (development, a kiosk with a screen):
 * prints `● ACCEPTED  green ■ beep-beep` once per pattern; per-toggle detail goes to debug
 * (and to the stream with `verbose`).
 */
export class ConsoleIndicatorBackend implements IndicatorBackend {
  readonly outputs: readonly Output[];
  private readonly stream: TextSink;
  private readonly verbose: boolean;
  private readonly color: boolean;
  private readonly now: () => number;
  private readonly log: Log;
  private readonly beepStart = new Map<Output, number>();

  constructor(opts: ConsoleBackendOptions = {}) {
    this.stream = opts.stream ?? process.stdout;
    this.outputs = opts.outputs ?? ALL_OUTPUTS;
    this.verbose = opts.verbose ?? false;
    this.color = opts.color ?? this.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLog;
  }

  async open(): Promise<void> {
    this.beepStart.clear();
  }

  begin(pattern: Pattern, summary: string): void {
    const label = pattern.toUpperCase();
    const dot = this.paint(patternColor(pattern), '●');
    this.stream.write(`${dot} ${label.padEnd(18)} ${summary}\n`.replace(/ +\n$/, '\n'));
  }

  set(output: Output, on: boolean, tone?: Tone): void {
    this.log.debug({ output, on, tone }, 'indicator output');
    if (output === 'buzzer') {
      if (on) {
        this.beepStart.set(output, this.now());
        this.line(`${this.paint('buzzer', '[BEEP]')} start${tone ? ` ${tone}` : ''}`);
      } else {
        const started = this.beepStart.get(output);
        this.beepStart.delete(output);
        this.line(`${this.paint('buzzer', '[BEEP]')} ${started === undefined ? 'off' : `${this.now() - started}ms`}`);
      }
      return;
    }
    this.line(`${this.paint(output, '[LED]')} ${output} ${on ? 'ON' : 'OFF'}`);
  }

  blink(output: Output, onMs: number, offMs: number): boolean {
    if (output === 'buzzer') return false;
    this.log.debug({ output, onMs, offMs }, 'indicator blink');
    this.line(`${this.paint(output, '[LED]')} ${output} BLINK ${onMs}/${offMs}`);
    return true;
  }

  async close(): Promise<void> {
    this.beepStart.clear();
  }

  private line(text: string): void {
    if (this.verbose) this.stream.write(`${text}\n`);
  }

  private paint(colour: string, text: string): string {
    return this.color ? `${ANSI[colour] ?? ''}${text}${RESET}` : text;
  }
}
