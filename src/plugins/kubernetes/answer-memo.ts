// The answer memo's store: bounded, keeping what clients keep asking.
// Two generations of maps, keyed by qtype then lower-case name (no key
// string to build and hash per query, as a "<qtype>/<name>" key needs):
// new entries go to the young generation; a hit in the old one moves the
// entry to the young one; when the young one holds half the bound it
// becomes the old one and the old one is dropped. A name asked at least
// once per max/2 new entries never goes, while a flood of names asked once
// pushes out only other names nobody asked for lately (an approximate LRU,
// at one or two Map lookups a hit instead of lru-cache's bookkeeping).

type Generation<V> = Map<number, Map<string, V>>;

export class AnswerMemo<V> {
  private young: Generation<V> = new Map();
  private old: Generation<V> = new Map();
  private youngSize = 0;
  private oldSize = 0;

  /** `max`: most entries held over both generations. */
  constructor(private readonly max: number) {}

  get(qtype: number, lname: string): V | undefined {
    const hit = this.young.get(qtype)?.get(lname);
    if (hit !== undefined) return hit;
    const olds = this.old.get(qtype);
    const v = olds?.get(lname);
    if (olds === undefined || v === undefined) return undefined;
    olds.delete(lname);
    this.oldSize--;
    this.set(qtype, lname, v);
    return v;
  }

  set(qtype: number, lname: string, v: V): void {
    let names = this.young.get(qtype);
    if (names === undefined) {
      names = new Map();
      this.young.set(qtype, names);
    }
    if (!names.has(lname)) this.youngSize++;
    names.set(lname, v);
    if (this.youngSize >= this.max >> 1) {
      this.old = this.young;
      this.oldSize = this.youngSize;
      this.young = new Map();
      this.youngSize = 0;
    }
  }

  get size(): number {
    return this.youngSize + this.oldSize;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngSize = 0;
    this.oldSize = 0;
  }
}
