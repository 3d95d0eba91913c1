// An open watch response of the fake API server, and the chunked writer
// lists and watch replays use (back-pressure honoured).

import type http from 'node:http';
import { CHUNK_BYTES, type Filter, type KindState } from './kube-api-core.js';

/** Wait until a response can take more data (or is gone). */
export function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Write strings produced by `next` in ~64 KiB chunks, honouring back-pressure. */
export async function pump(res: http.ServerResponse, next: () => string | undefined): Promise<void> {
  let buf: string[] = [];
  let size = 0;
  for (let s = next(); s !== undefined; s = next()) {
    buf.push(s);
    size += s.length;
    if (size >= CHUNK_BYTES) {
      if (res.destroyed || res.writableEnded) return;
      const ok = res.write(buf.join(''));
      buf = [];
      size = 0;
      if (!ok) await drained(res);
    }
  }
  if (buf.length && !res.destroyed && !res.writableEnded) res.write(buf.join(''));
}

/** An open watch response. */
export class WatchStream {
  /** Lines queued while the initial events are still being written; null once live. */
  pending: string[] | null = [];
  closed = false;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly st: KindState,
    readonly res: http.ServerResponse,
    readonly filter: Filter,
    /** allowWatchBookmarks=true was asked for */
    readonly bookmarks: boolean,
    /** silentWatches was on when the stream opened: never send anything */
    readonly silent: boolean,
    private readonly onClose: (w: WatchStream) => void,
  ) {
    res.on('close', () => this.close());
  }

  send(line: string): void {
    if (this.closed || this.silent) return;
    if (this.pending) this.pending.push(line);
    else this.res.write(line);
  }

  /** Initial events are written: flush what arrived meanwhile and go live. */
  goLive(): void {
    if (this.closed || !this.pending) return;
    const queued = this.pending;
    this.pending = null;
    if (queued.length) this.res.write(queued.join(''));
  }

  armBookmarks(intervalMs: number, bookmarkLine: () => string): void {
    clearInterval(this.bookmarkTimer);
    this.bookmarkTimer = undefined;
    if (this.closed || !this.bookmarks || intervalMs <= 0) return;
    this.bookmarkTimer = setInterval(() => this.send(bookmarkLine()), intervalMs);
    // Only meaningful while the socket is open, and the socket keeps the loop alive.
    this.bookmarkTimer.unref();
  }

  armTimeout(seconds: number): void {
    this.timeoutTimer = setTimeout(() => this.end(), seconds * 1000);
    this.timeoutTimer.unref();
  }

  /**
   * Clean end: the chunked terminator, as when the server's watch timeout
   * fires. If the initial events are still being written, the stream just
   * stops there (queued live events are dropped, never sent out of order).
   */
  end(): void {
    if (this.closed) return;
    this.close();
    this.res.end();
  }

  /** Abrupt end: the client sees the stream cut mid-body. */
  cut(): void {
    this.close();
    this.res.destroy();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.bookmarkTimer);
    clearTimeout(this.timeoutTimer);
    this.onClose(this);
  }
}
