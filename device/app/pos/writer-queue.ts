/**
 * The single-writer queue: every decision and every commit of the box (a scan, a POS command, the
 * session opened by an NFC tap) runs as one task of this queue.
 *
 * INVARIANTS:
 * - Tasks run one at a time, in the order they were enqueued (FIFO), never interleaved.
 * - A task is synchronous from its first read to its last write: it never awaits. So a task's
 *   decision and the commits it makes are atomic with respect to every other task, and each task
 *   sees the journal and the RAM state exactly as the previous task left them.
 * - A task that enqueues another (re-entrancy, e.g. from a callback) does not run it inline: the new
 *   task waits until the current one has returned. Callbacks that must be part of the current
 *   decision (the Acceptor's paid/declined events) are plain function calls, not new tasks.
 * - A task that throws fails only its own promise; the queue keeps draining.
 */
import type { Log } from '../../../drivers/common/log.ts';

interface Task {
  label: string;
  run(): void;
}

export class WriterQueue {
  private readonly tasks: Task[] = [];
  private draining = false;
  private ran = 0;

  constructor(private readonly log: Log) {}

  /** Enqueues a synchronous task; resolves with its result once it has run. */
  run<T>(label: string, task: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.tasks.push({
        label,
        run: () => {
          try {
            resolve(task());
          } catch (e) {
            this.log.error({ event: 'queue.task-failed', task: label, err: e instanceof Error ? e.message : String(e) }, 'writer task threw');
            reject(e);
          }
        },
      });
      this.drain();
    });
  }

  /** How many tasks have run (diagnostics). */
  get completed(): number {
    return this.ran;
  }

  get busy(): boolean {
    return this.draining;
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let t = this.tasks.shift(); t; t = this.tasks.shift()) {
        t.run();
        this.ran++;
      }
    } finally {
      this.draining = false;
    }
  }
}
