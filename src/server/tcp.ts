/**
 * Splits a TCP byte stream into DNS messages (2-byte length prefix,
 * RFC 1035 4.2.2), whatever way the stream was cut into chunks.
 */
export class TcpFramer {
  private buf: Buffer | null = null;

  constructor(private readonly onMessage: (msg: Buffer) => void, private readonly maxBuffered = 65537 * 2) {}

  /** Returns false when the peer sent more unframed bytes than any message can hold. */
  push(chunk: Buffer): boolean {
    let data = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (data.length - off >= 2) {
      const len = data.readUInt16BE(off);
      if (data.length - off - 2 < len) break;
      const msg = data.subarray(off + 2, off + 2 + len);
      off += 2 + len;
      if (len > 0) this.onMessage(msg);
    }
    data = off === 0 ? data : data.subarray(off);
    this.buf = data.length === 0 ? null : Buffer.from(data);
    return this.buf === null || this.buf.length <= this.maxBuffered;
  }
}

/**
 * The server side of the same framing, pulled one message at a time: a
 * connection takes messages only while it may answer them, and keeps the
 * rest (at most what one read delivered) until the client has read enough.
 */
export class FrameQueue {
  private buf: Buffer = EMPTY;
  private off = 0;

  push(chunk: Buffer): void {
    if (this.off >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
    }
    this.off = 0;
  }

  /** The next complete message, or null; empty messages are skipped. */
  next(): Buffer | null {
    for (;;) {
      const left = this.buf.length - this.off;
      if (left < 2) return null;
      const len = this.buf.readUInt16BE(this.off);
      if (left - 2 < len) return null;
      const start = this.off + 2;
      this.off = start + len;
      if (len > 0) return this.buf.subarray(start, start + len);
    }
  }

  /** Bytes received and not taken yet (after next() returned null: an incomplete message). */
  get buffered(): number {
    return this.buf.length - this.off;
  }

  /** Drops what is left (the incomplete message of a client that sent FIN). */
  clear(): void {
    this.buf = EMPTY;
    this.off = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** Messages with their 2-byte length prefixes, in one buffer (RFC 1035 4.2.2). */
export function frameAll(msgs: readonly Buffer[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let off = 0;
  for (const m of msgs) {
    out.writeUInt16BE(m.length, off);
    m.copy(out, off + 2);
    off += 2 + m.length;
  }
  return out;
}
