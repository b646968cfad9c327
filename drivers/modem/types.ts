/**
 * Connectivity driver interface: is the back end reachable over the box's uplink, how good is the
 * signal, and what time does the network say it is. Reconciliation polls `check()` before it
 * sends anything. Like every driver, only `open()` throws; `check()` reports trouble as
 * `{ up: false, code }`.
 */

/** Which implementation produced a LinkState. */
export type LinkSource = 'mmcli' | 'at' | 'reachability' | 'fake' | 'always';

/** 3GPP registration as reported by +CEREG/+CREG or ModemManager. */
export type Registration = 'home' | 'roaming' | 'searching' | 'denied' | 'not-registered' | 'unknown';

export interface LinkSignal {
  /** Received signal strength in dBm (AT: -113 + 2 * csq). */
  rssiDbm?: number;
  /** Raw +CSQ rssi, 0..31; 99 means unknown and is left out. */
  csq?: number;
  /** ModemManager's signal quality in percent, 0..100. */
  percent?: number;
}

export interface LinkState {
  up: boolean;
  source: LinkSource;
  registration?: Registration;
  signal?: LinkSignal;
  /** Operator name (or MCC/MNC when only the numeric form is known). */
  operator?: string;
  /** Network (NITZ) time as epoch milliseconds UTC, when the modem has a valid one. */
  networkTimeMs?: number;
  /** Why the link is down, a stable code such as MODEM_NOT_REGISTERED or BACKEND_UNREACHABLE. */
  code?: string;
}

export interface Connectivity {
  /** Acquire the device or tool; throws a BoxError when that is impossible. */
  open(): Promise<void>;
  /** Release everything; idempotent. */
  close(): Promise<void>;
  /** One observation of the link; never throws. */
  check(): Promise<LinkState>;
}

/** Stable reasons a LinkState is down. */
export const LinkDownCode = {
  NotOpen: 'NOT_OPEN',
  PortDown: 'MODEM_PORT_DOWN',
  NoAnswer: 'MODEM_NO_ANSWER',
  NotRegistered: 'MODEM_NOT_REGISTERED',
  NotConnected: 'MODEM_NOT_CONNECTED',
  NoModem: 'MODEM_MISSING',
  ToolFailed: 'MMCLI_FAILED',
  BadOutput: 'MMCLI_BAD_OUTPUT',
  Unreachable: 'BACKEND_UNREACHABLE',
  Fake: 'FAKE_DOWN',
} as const;
export type LinkDownCode = (typeof LinkDownCode)[keyof typeof LinkDownCode];
