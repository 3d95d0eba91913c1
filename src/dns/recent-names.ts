// Question names seen lately, by their wire bytes (length-prefixed labels). Making a JS string of a
// name costs a call into C++ (latin1Slice) and a fresh string whose hash
// every Map lookup downstream computes again; clients ask the same names
// over and over, so a name whose bytes match a kept one reuses its strings
// (already hashed). Direct-mapped by an FNV-1a hash of the bytes: a clash
// replaces the slot, a hit is checked byte by byte, so a name never comes
// back as another.

/** Slots (a power of two): the bench's ~4,000 cluster names mostly fit. */
const SLOTS = 8192;
/** Longer names (wire bytes, with the root's 0) are not kept: cluster names are rarely this long. */
export const RECENT_NAME_MAX = 64;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The hash a name's bytes start from; fold each byte in with nextHash. */
export const NAME_HASH_START = FNV_OFFSET;

export function nextHash(h: number, byte: number): number {
  return Math.imul(h ^ byte, FNV_PRIME);
}

/** The slot a plain name (its text, no trailing dot) takes: tests make clashes with it. */
export function recentNameSlot(text: string): number {
  let h = NAME_HASH_START;
  if (text === '') return h & (SLOTS - 1);
  for (const label of text.split('.')) {
    h = nextHash(h, label.length);
    for (let i = 0; i < label.length; i++) h = nextHash(h, label.charCodeAt(i));
  }
  return h & (SLOTS - 1);
}

export class RecentNames {
  // Allocated at the first name kept (about 1 MB with its strings, at most): a process that answers nothing holds nothing.
  private bytes: Uint8Array | null = null;
  private lengths = new Uint8Array(0);
  // Filled up front: assigning far slots of an empty array would turn it into a dictionary.
  private names: string[] = [];
  private lnames: string[] = [];
  /** Set by find() on a hit. */
  name = '';
  lname = '';

  /** True when src[start, start + len) was kept: its strings are then in name / lname. */
  find(src: Uint8Array, start: number, len: number, hash: number): boolean {
    const slot = hash & (SLOTS - 1);
    const bytes = this.bytes;
    if (bytes === null || this.lengths[slot] !== len || len === 0) return false;
    const base = slot * RECENT_NAME_MAX;
    for (let i = 0; i < len; i++) if (bytes[base + i] !== src[start + i]) return false;
    this.name = this.names[slot] ?? '';
    this.lname = this.lnames[slot] ?? '';
    return true;
  }

  /** Keeps src[start, start + len) with its strings (names too long are not kept). */
  keep(src: Uint8Array, start: number, len: number, hash: number, name: string, lname: string): void {
    if (len > RECENT_NAME_MAX || len === 0) return;
    const slot = hash & (SLOTS - 1);
    let bytes = this.bytes;
    if (bytes === null) {
      bytes = this.bytes = new Uint8Array(SLOTS * RECENT_NAME_MAX);
      this.lengths = new Uint8Array(SLOTS);
      this.names = new Array<string>(SLOTS).fill('');
      this.lnames = new Array<string>(SLOTS).fill('');
    }
    const base = slot * RECENT_NAME_MAX;
    for (let i = 0; i < len; i++) bytes[base + i] = src[start + i] ?? 0;
    this.lengths[slot] = len;
    this.names[slot] = name;
    this.lnames[slot] = lname;
  }
}
