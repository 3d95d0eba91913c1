// Reads a Kubernetes list response ({"kind": ..., "metadata": {...},
// "items": [{...}, ...]}) as it streams in, handing over each item as soon as
// its last byte arrives. Each item is parsed on its own, so a page never
// exists as one big string or one big object tree: the memory a page costs
// is one item, not the page (a page of 500 EndpointSlices of a real cluster
// is easily 10 MB of JSON). Everything outside the items array (kind,
// metadata with continue and resourceVersion) is kept and parsed at the end.
//
// The scan works on bytes: the structural characters { } [ ] " \ are ASCII,
// and UTF-8 never uses ASCII bytes inside a multi-byte character, so an item
// cut at its braces is complete UTF-8. The scan only finds boundaries; every
// piece is checked by JSON.parse, so malformed input throws instead of being
// misread.
//
// A body that ends within its first `wholeBodyBytes` is never scanned: it is
// parsed whole by JSON.parse at the end (native code, and the memory of a
// small page does not matter). The byte loop below is the hottest code a
// sync runs; once it has run a few thousand bytes V8 compiles it with its
// optimizing compiler, whose code is ~6 MB of the node binary's pages, and a
// small cluster would pay that RSS for a list it reads once.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const ITEMS = [0x69, 0x74, 0x65, 0x6d, 0x73]; // "items"
/** Bodies up to this size are parsed whole (see the top of this file). */
export const WHOLE_BODY_BYTES = 256 * 1024;

export class ListSplitter {
  /** Items handed over so far. */
  count = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Bytes of the current depth-1 string match "items" so far (-1: no match). */
  private keyMatch = -1;
  private lastKeyIsItems = false;
  /** Inside the top-level "items" array. */
  private inItems = false;
  private sawItems = false;
  /** Inside one item (an object in the items array). */
  private inItem = false;
  private item: Buffer[] = [];
  private envelope: Buffer[] = [];
  /** The body so far while it is small enough to be parsed whole (null: scanning). */
  private held: Buffer[] | null = [];
  private heldBytes = 0;

  constructor(private readonly onItem: (item: unknown) => void, private readonly wholeBodyBytes = WHOLE_BODY_BYTES) {}

  /** The next bytes of the body. Throws on malformed JSON, or what onItem throws. */
  write(chunk: Buffer): void {
    const held = this.held;
    if (held === null) return this.scan(chunk);
    held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes <= this.wholeBodyBytes) return;
    this.held = null;
    for (const c of held) this.scan(c);
  }

  private scan(chunk: Buffer): void {
    // Hot loop: state in locals, written back at the end.
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    let keyMatch = this.keyMatch;
    // Where the current envelope and item parts began in this chunk (-1: not in one).
    let envStart = this.inItems ? -1 : 0;
    let itemStart = this.inItem ? 0 : -1;
    // Next backslash at or after i (-2: not looked for yet, -1: none left in this chunk).
    let nextBackslash = -2;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (inString) {
        if (escaped) {
          escaped = false;
          i++;
        } else if (depth === 1) {
          // A top-level key (or value): byte by byte, to see whether it is "items".
          const c = chunk[i] ?? -1; // i < n: always a byte
          if (c === BACKSLASH) { escaped = true; keyMatch = -1; }
          else if (c === QUOTE) { inString = false; this.lastKeyIsItems = keyMatch === ITEMS.length; }
          else if (keyMatch >= 0) keyMatch = keyMatch < ITEMS.length && ITEMS[keyMatch] === c ? keyMatch + 1 : -1;
          i++;
        } else {
          // Deeper strings (most of the bytes): jump to the next quote or backslash.
          if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
          const q = chunk.indexOf(QUOTE, i);
          if (nextBackslash !== -1 && (q === -1 || nextBackslash < q)) {
            escaped = true;
            i = nextBackslash + 1;
          } else if (q === -1) {
            i = n; // the string goes on in the next chunk
          } else {
            inString = false;
            i = q + 1;
          }
        }
        continue;
      }
      const c = chunk[i] ?? -1; // i < n: always a byte
      switch (c) {
        case QUOTE:
          inString = true;
          keyMatch = depth === 1 ? 0 : -1;
          break;
        case LBRACE:
        case LBRACKET:
          if (this.inItems && depth === 2 && c === LBRACE) {
            this.inItem = true;
            itemStart = i;
          }
          depth++;
          if (c === LBRACKET && depth === 2 && this.lastKeyIsItems && !this.sawItems) {
            // The items array opens: the envelope keeps "items":[ and resumes at its ].
            this.inItems = true;
            this.sawItems = true;
            this.envelope.push(chunk.subarray(envStart, i + 1));
            envStart = -1;
          }
          break;
        case RBRACE:
        case RBRACKET:
          if (--depth < 0) throw new Error('malformed JSON: unbalanced brackets');
          if (this.inItem && depth === 2) {
            this.item.push(chunk.subarray(itemStart, i + 1));
            this.inItem = false;
            itemStart = -1;
            this.emit();
          } else if (this.inItems && depth === 1) {
            this.inItems = false;
            envStart = i;
          }
          break;
        default:
          break;
      }
      i++;
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    this.keyMatch = keyMatch;
    if (envStart >= 0) this.envelope.push(chunk.subarray(envStart));
    if (itemStart >= 0) this.item.push(chunk.subarray(itemStart));
  }

  /** The body is complete: returns the list without its items (kind, metadata...). */
  end(): { envelope: Record<string, unknown>; sawItems: boolean } {
    if (this.held !== null) {
      // Never scanned: the whole body is the envelope, its items handed over below.
      this.envelope = this.held;
      this.held = null;
    } else if (this.depth !== 0 || this.inString) throw new Error('malformed JSON: truncated');
    const parsed: unknown = JSON.parse(Buffer.concat(this.envelope).toString('utf8'));
    this.envelope = [];
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    const envelope = parsed as Record<string, unknown>;
    // Items the scan did not split out (e.g. an escaped key): still items.
    let sawItems = this.sawItems;
    if (!sawItems && Array.isArray(envelope.items)) {
      sawItems = true;
      for (const item of envelope.items) { this.count++; this.onItem(item); }
      envelope.items = [];
    }
    return { envelope, sawItems };
  }

  private emit(): void {
    const [only] = this.item;
    const bytes = this.item.length === 1 && only !== undefined ? only : Buffer.concat(this.item);
    this.item = [];
    const item: unknown = JSON.parse(bytes.toString('utf8'));
    this.count++;
    this.onItem(item);
  }
}
