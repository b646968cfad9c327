import { describe, expect, it } from 'vitest';
import { createNotifier, parseWatchdogEnv, type SdNotifyBinding } from '../../device/app/sd-notify.ts';
import type { Log } from '../../drivers/common/log.ts';

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLog(lines: Line[]): Log {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const log: Log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return log;
}

function fakeBinding() {
  const sent: Array<[string, string]> = [];
  let failWith: string | undefined;
  const binding: SdNotifyBinding = {
    send(socketPath, message) {
      if (failWith !== undefined) throw Object.assign(new Error(`sdnotify.send: sendto failed: ${failWith}`), { code: failWith });
      sent.push([socketPath, message]);
      return message.length;
    },
  };
  return { binding, sent, fail: (code: string | undefined) => (failWith = code) };
}

describe('createNotifier', () => {
  it('is a no-op and never loads the addon when NOTIFY_SOCKET is unset', () => {
    const lines: Line[] = [];
    let loads = 0;
    const n = createNotifier({
      env: {},
      log: recordingLog(lines),
      loadBinding: () => {
        loads++;
        throw new Error('must not load');
      },
    });
    n.ready();
    n.watchdog();
    n.status('x');
    n.stopping();
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeUndefined();
    expect(loads).toBe(0);
    expect(lines).toEqual([]);
  });

  it('sends READY=1, WATCHDOG=1, STATUS= and STOPPING=1 to NOTIFY_SOCKET, loading the addon once', () => {
    const fake = fakeBinding();
    let loads = 0;
    const n = createNotifier({
      env: { NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify/123' },
      log: recordingLog([]),
      loadBinding: () => {
        loads++;
        return fake.binding;
      },
    });
    expect(loads).toBe(0); // lazy
    n.ready();
    n.watchdog();
    n.status('scanning\nline two');
    n.stopping();
    expect(loads).toBe(1);
    expect(fake.sent).toEqual([
      ['@/org/freedesktop/systemd1/notify/123', 'READY=1'],
      ['@/org/freedesktop/systemd1/notify/123', 'WATCHDOG=1'],
      ['@/org/freedesktop/systemd1/notify/123', 'STATUS=scanning line two'],
      ['@/org/freedesktop/systemd1/notify/123', 'STOPPING=1'],
    ]);
    expect(n.enabled).toBe(true);
  });

  it('logs one clear error naming the build command when the addon is missing, and never throws', () => {
    const lines: Line[] = [];
    const n = createNotifier({
      env: { NOTIFY_SOCKET: '/run/systemd/notify' },
      log: recordingLog(lines),
      loadBinding: () => {
        throw Object.assign(new Error("Cannot find module 'qrpay-sdnotify'"), { code: 'MODULE_NOT_FOUND' });
      },
    });
    expect(() => {
      n.ready();
      n.watchdog();
      n.watchdog();
    }).not.toThrow();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe('error');
    expect(lines[0]?.obj['code']).toBe('SD_NOTIFY_ADDON_MISSING');
    expect(lines[0]?.msg).toContain('npm run build` in native/sdnotify');
    expect(n.enabled).toBe(false);
  });

  it('logs send failures rate-limited and reports recovery', () => {
    const lines: Line[] = [];
    const fake = fakeBinding();
    const n = createNotifier({ env: { NOTIFY_SOCKET: '/run/x' }, log: recordingLog(lines), loadBinding: () => fake.binding });
    fake.fail('ECONNREFUSED');
    for (let i = 0; i < 150; i++) n.watchdog();
    expect(lines.map((l) => [l.obj['code'], l.obj['failures']])).toEqual([
      ['SD_NOTIFY_FAILED', 1],
      ['SD_NOTIFY_FAILED', 100],
    ]);
    expect(lines[0]?.obj['errno']).toBe('ECONNREFUSED');
    fake.fail(undefined);
    n.watchdog();
    expect(lines.at(-1)?.obj).toMatchObject({ code: 'SD_NOTIFY_RECOVERED', failures: 150 });
    expect(fake.sent).toHaveLength(1);
  });

  it('rejects a NOTIFY_SOCKET that is neither a path nor abstract (vsock:) with one error', () => {
    const lines: Line[] = [];
    const fake = fakeBinding();
    const n = createNotifier({ env: { NOTIFY_SOCKET: 'vsock:2:1234' }, log: recordingLog(lines), loadBinding: () => fake.binding });
    n.ready();
    expect(fake.sent).toEqual([]);
    expect(lines.map((l) => l.obj['code'])).toEqual(['SD_NOTIFY_BAD_SOCKET']);
    expect(n.enabled).toBe(false);
  });

  it('derives the ping interval as half of WATCHDOG_USEC', () => {
    const n = createNotifier({ env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000' }, log: recordingLog([]), pid: 42 });
    expect(n.watchdogTimeoutMs).toBe(30_000);
    expect(n.watchdogIntervalMs).toBe(15_000);
  });
});

describe('parseWatchdogEnv', () => {
  it.each([
    [{}, undefined],
    [{ WATCHDOG_USEC: '' }, undefined],
    [{ WATCHDOG_USEC: 'abc' }, undefined],
    [{ WATCHDOG_USEC: '-5' }, undefined],
    [{ WATCHDOG_USEC: '0' }, undefined],
    [{ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '41' }, undefined], // meant for another process
    [{ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '42' }, { timeoutMs: 20_000, intervalMs: 10_000 }],
    [{ WATCHDOG_USEC: '20000000' }, { timeoutMs: 20_000, intervalMs: 10_000 }],
    [{ WATCHDOG_USEC: '1500' }, { timeoutMs: 1.5, intervalMs: 1 }],
  ])('%j -> %j', (env, expected) => {
    expect(parseWatchdogEnv(env, 42)).toEqual(expected);
  });
});
