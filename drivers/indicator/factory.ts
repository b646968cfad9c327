import type { Log } from '../common/log.ts';
import { silentLog } from '../common/log.ts';
import type { ConsoleBackendOptions } from './console-backend.ts';
import type { KernelLedBackendOptions } from './kernel-led-backend.ts';
import type { OnoffBackendOptions } from './onoff-backend.ts';
import { IndicatorPlayer, type PlayerEvent } from './player.ts';
import type { IndicatorBackend, Pattern, Timers } from './types.ts';

/** The `indicator` section of the box config. */
export type IndicatorConfig =
  | { kind: 'console'; verbose?: boolean }
  | { kind: 'kernel-led'; leds: KernelLedBackendOptions['leds']; pwmBuzzer?: KernelLedBackendOptions['pwmBuzzer']; sysfsRoot?: string }
  | {
      kind: 'gpio-onoff';
      pins: OnoffBackendOptions['pins'];
      activeLow?: OnoffBackendOptions['activeLow'];
      gpioChipLabel?: string;
      sysfsRoot?: string;
    };

export interface IndicatorDeps {
  log?: Log;
  timers?: Timers;
  now?: () => number;
  onEvent?: (e: PlayerEvent) => void;
  base?: Pattern;
  /** Console stream (default process.stdout). */
  stream?: ConsoleBackendOptions['stream'];
}

/** Builds the backend named by the config; each kind's module (and onoff) loads only when chosen. */
export async function createIndicatorBackend(config: IndicatorConfig, deps: IndicatorDeps = {}): Promise<IndicatorBackend> {
  const log = (deps.log ?? silentLog).child({ driver: 'indicator', kind: config.kind });
  switch (config.kind) {
    case 'console': {
      const { ConsoleIndicatorBackend } = await import('./console-backend.ts');
      return new ConsoleIndicatorBackend({
        verbose: config.verbose ?? false,
        log,
        ...(deps.stream ? { stream: deps.stream } : {}),
        ...(deps.now ? { now: deps.now } : {}),
      });
    }
    case 'kernel-led': {
      const { KernelLedBackend } = await import('./kernel-led-backend.ts');
      return new KernelLedBackend({ ...config, log });
    }
    case 'gpio-onoff': {
      const { OnoffBackend } = await import('./onoff-backend.ts');
      return new OnoffBackend({ ...config, log });
    }
  }
}

/** Backend plus player: the Indicator the app uses. Call `open()` on the result (it throws if hardware is missing). */
export async function createIndicator(config: IndicatorConfig, deps: IndicatorDeps = {}): Promise<IndicatorPlayer> {
  const backend = await createIndicatorBackend(config, deps);
  return new IndicatorPlayer({
    backend,
    log: (deps.log ?? silentLog).child({ driver: 'indicator' }),
    ...(deps.timers ? { timers: deps.timers } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    ...(deps.base ? { base: deps.base } : {}),
  });
}
