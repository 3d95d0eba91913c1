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
