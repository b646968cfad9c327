/**
 * The transport-independent half of the POS link: line framing with a size cap, and the handling
 * of one line (parse -> authenticate -> command -> reply), each line as one writer-queue task.
 * Nothing a POS sends can throw out of here: every fault is an {type:'error', code} reply.
 */
import type { Log } from '../../../drivers/common/log.ts';
import type { PosAuth } from './auth.ts';
import type { ChargeBook } from './charge-book.ts';
import { MAX_LINE_BYTES, type MessageId, POS_ERROR, type PosErrorCode, type PosEvent, type PosReply, parseLine } from './messages.ts';
import type { WriterQueue } from './writer-queue.ts';

/** Splits a byte stream into lines; a line over `maxBytes` is dropped whole and reported once. */
export class LineFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOversize: () => void,
    private readonly maxBytes = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, nl));
      if (!this.discarding) {
        let line = Buffer.concat(this.parts).toString('utf8');
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line.trim() !== '') this.onLine(line);
      }
      this.parts = [];
      this.size = 0;
      this.discarding = false;
      start = nl + 1;
    }
    this.append(chunk.subarray(start));
  }

  private append(b: Buffer): void {
    if (this.discarding || b.length === 0) return;
    if (this.size + b.length > this.maxBytes + 1) {
      // +1 tolerates the CR of a CRLF line of exactly maxBytes
      this.parts = [];
      this.size = 0;
      this.discarding = true;
      this.onOversize();
      return;
    }
    this.parts.push(Buffer.from(b));
    this.size += b.length;
  }
}

export interface PosLinkDeps {
  book: ChargeBook;
  queue: WriterQueue;
  /** null on loopback and serial without a key: no authentication. */
  auth: PosAuth | null;
  log: Log;
}

type Outgoing = (PosReply | PosEvent) & { re?: MessageId };

/** One peer of the link (a TCP connection, the serial port). */
export interface PosPeer {
  send(line: string): void;
}

export class PosLink {
  private readonly peers = new Set<PosPeer>();
  private readonly unsubscribe: () => void;
  private faults = 0;

  constructor(private readonly d: PosLinkDeps) {
    // Events are produced inside writer tasks (the scan task): sealing them there keeps seq order.
    this.unsubscribe = d.book.subscribe((e) => this.broadcast(e));
  }

  /** Count of lines answered with an error (diagnostics). */
  get faultCount(): number {
    return this.faults;
  }

  attach(peer: PosPeer): { push(chunk: Buffer): void; detach(): void } {
    this.peers.add(peer);
    const framer = new LineFramer(
      (line) => this.handleLine(peer, line),
      () => this.sendError(peer, POS_ERROR.LINE_TOO_LONG, `line over ${MAX_LINE_BYTES} bytes dropped`),
    );
    return {
      push: (chunk) => framer.push(chunk),
      detach: () => this.peers.delete(peer),
    };
  }

  close(): void {
    this.unsubscribe();
    this.peers.clear();
  }

  private handleLine(peer: PosPeer, line: string): void {
    this.d.queue
      .run('pos-command', () => this.answer(line))
      .then(
        (out) => this.write(peer, out),
        () => this.sendError(peer, POS_ERROR.INTERNAL, 'command failed'),
      );
  }

  /** Runs inside a writer task. */
  private answer(line: string): Outgoing {
    const parsed = parseLine(line);
    const re = parsed.id === undefined ? {} : { re: parsed.id };
    if (this.d.auth) {
      const raw = parsed.ok ? parsed.raw : safeObject(line);
      const code = raw ? this.d.auth.verify(raw) : POS_ERROR.AUTH_REQUIRED;
      if (code) return this.seal(this.errorOut(code, 'message not authenticated', re));
    }
    if (!parsed.ok) return this.seal(this.errorOut(parsed.code, parsed.detail, re));
    const reply = this.d.book.command(parsed.command);
    if (reply.type === 'error') this.faults++;
    this.d.log.info({ event: 'pos.command', type: parsed.command.type, reply: reply.type, code: reply.type === 'error' ? reply.code : undefined }, 'POS command');
    return this.seal({ ...reply, ...re });
  }

  private errorOut(code: PosErrorCode, detail: string, re: { re?: MessageId }): Outgoing {
    this.faults++;
    this.d.log.warn({ event: 'pos.bad-message', code, detail }, 'POS message refused');
    return { type: 'error', code, detail, ...re };
  }

  private sendError(peer: PosPeer, code: PosErrorCode, detail: string): void {
    this.d.queue.run('pos-error', () => this.seal(this.errorOut(code, detail, {}))).then(
      (out) => this.write(peer, out),
      () => {},
    );
  }

  private broadcast(e: PosEvent): void {
    const sealed = this.seal(e);
    for (const p of this.peers) this.write(p, sealed);
  }

  private seal(o: Outgoing): Outgoing {
    return this.d.auth ? this.d.auth.seal(o) : o;
  }

  private write(peer: PosPeer, o: Outgoing): void {
    try {
      peer.send(`${JSON.stringify(o)}\n`);
    } catch (e) {
      this.d.log.warn({ event: 'pos.send-failed', err: e instanceof Error ? e.message : String(e) }, 'POS peer write failed');
    }
  }
}

function safeObject(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
