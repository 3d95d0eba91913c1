import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { log } from '../../log.js';
import type { Kind, RecordOf, ReplaceBatch, StoreSink } from './objects.js';

/**
 * `snapshot FILE` (a clusterdns extension): the records the live source
 * delivered, written to disk so that a restart while the API server is
 * unreachable can answer from the last known cluster state instead of
 * SERVFAIL. File layout: one header line, then the body (JSON):
 *
 *   clusterdns-snapshot 1 <sha256 of body, hex> <body bytes> <written, Unix ms>\n
 *   {"services":[…],"endpointslices":[…],"namespaces":[…],"pods":[…]}
 *
 * The checksum and length make a truncated or corrupted file detectable; the
 * magic word and version make a foreign one (another program's file, a future
 * format) detectable. Any of those is ignored, never served.
 */
const MAGIC = 'clusterdns-snapshot';
const VERSION = 1;
const KINDS: readonly Kind[] = ['services', 'endpointslices', 'namespaces', 'pods'];
/** A change is written once the store has been quiet this long… */
const QUIET_MS = 1000;
/** …or at the latest this long after the first unwritten change (a store that never goes quiet). */
const MAX_DELAY_MS = 10_000;

export interface SnapshotContents {
  /** Unix ms when the snapshot was written. */
  writtenAt: number;
  records: { [K in Kind]?: Array<RecordOf<K>> };
}

export type SnapshotRead = { ok: true; snapshot: SnapshotContents; bytes: number } | { ok: false; problem: string };

function recordKey(kind: Kind, rec: RecordOf<Kind>): string {
  return kind === 'namespaces' ? rec.name : `${(rec as RecordOf<'services'>).namespace}/${rec.name}`;
}

/**
 * Sits between the live source and the store: passes everything on, and
 * keeps each record as its JSON text (compact, and what the file needs) so
 * the snapshot can be written without walking the store's own structures.
 */
export class SnapshotTee implements StoreSink {
  private readonly tables = new Map<Kind, Map<string, string>>();
  private readonly syncedKinds = new Set<Kind>();

  constructor(
    private readonly inner: StoreSink,
    /** The kinds a complete snapshot must hold (the store's required kinds). */
    private readonly required: readonly Kind[],
    private readonly onChange: () => void,
  ) {}

  upsert<K extends Kind>(kind: K, rec: RecordOf<K>): void {
    this.inner.upsert(kind, rec);
    this.table(kind).set(recordKey(kind, rec), JSON.stringify(rec));
    this.onChange();
  }

  remove(kind: Kind, namespace: string, name: string, triggerTime?: number): void {
    this.inner.remove(kind, namespace, name, triggerTime);
    if (this.table(kind).delete(kind === 'namespaces' ? name : `${namespace}/${name}`)) this.onChange();
  }

  replace<K extends Kind>(kind: K, recs: Array<RecordOf<K>>): void {
    const batch = this.beginReplace(kind);
    for (const r of recs) batch.add(r);
    batch.commit();
  }

  beginReplace<K extends Kind>(kind: K): ReplaceBatch<K> {
    const inner = this.inner.beginReplace?.(kind) ?? collectThenReplace(this.inner, kind);
    const next = new Map<string, string>();
    return {
      add: (rec) => {
        inner.add(rec);
        next.set(recordKey(kind, rec), JSON.stringify(rec));
      },
      commit: () => {
        inner.commit();
        this.tables.set(kind, next);
        this.onChange();
      },
    };
  }

  markSynced(kind: Kind): void {
    this.inner.markSynced(kind);
    this.syncedKinds.add(kind);
    this.onChange();
  }

  /** Every required kind has been listed in full: only then is a snapshot worth writing. */
  get complete(): boolean {
    return this.required.every((k) => this.syncedKinds.has(k));
  }

  /** The snapshot's body: the synced kinds' records. */
  body(): string {
    const parts: string[] = [];
    for (const kind of KINDS) {
      if (!this.syncedKinds.has(kind)) continue;
      parts.push(`${JSON.stringify(kind)}:[${[...this.table(kind).values()].join(',')}]`);
    }
    return `{${parts.join(',')}}`;
  }

  private table(kind: Kind): Map<string, string> {
    let t = this.tables.get(kind);
    if (t === undefined) {
      t = new Map();
      this.tables.set(kind, t);
    }
    return t;
  }
}

function collectThenReplace<K extends Kind>(sink: StoreSink, kind: K): ReplaceBatch<K> {
  const recs: Array<RecordOf<K>> = [];
  return { add: (r) => recs.push(r), commit: () => sink.replace(kind, recs) };
}

/** The file's bytes for a body written now. */
export function encodeSnapshot(body: string, writtenAt = Date.now()): Buffer {
  const data = Buffer.from(body, 'utf8');
  const sum = createHash('sha256').update(data).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${VERSION} ${sum} ${data.length} ${writtenAt}\n`, 'latin1'), data]);
}

/** Parses and checks a snapshot file's bytes; a problem names what is wrong, for one warning line. */
export function decodeSnapshot(file: Buffer): SnapshotRead {
  const nl = file.indexOf(0x0a);
  if (nl < 0 || nl > 200) return { ok: false, problem: 'not a clusterdns snapshot (no header line)' };
  const header = file.subarray(0, nl).toString('latin1').split(' ');
  const [magic, version, sum, length, written] = header;
  if (magic !== MAGIC || header.length !== 5) return { ok: false, problem: 'not a clusterdns snapshot (unknown header)' };
  if (version !== String(VERSION)) return { ok: false, problem: `snapshot format version ${version ?? '?'} is not ${VERSION}` };
  const data = file.subarray(nl + 1);
  if (String(data.length) !== length) return { ok: false, problem: `truncated or padded: ${data.length} body bytes, header says ${length ?? '?'}` };
  if (createHash('sha256').update(data).digest('hex') !== sum) return { ok: false, problem: 'checksum mismatch (corrupted)' };
  const writtenAt = Number(written);
  if (!Number.isSafeInteger(writtenAt) || writtenAt <= 0) return { ok: false, problem: 'invalid write time in header' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return { ok: false, problem: `body is not JSON: ${(err as Error).message}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, problem: 'body is not an object of kinds' };
  const records: SnapshotContents['records'] = {};
  for (const [kind, list] of Object.entries(parsed)) {
    if (!(KINDS as readonly string[]).includes(kind)) return { ok: false, problem: `unknown kind "${kind}"` };
    if (!Array.isArray(list) || !list.every(isRecordShaped)) return { ok: false, problem: `${kind}: not a list of records` };
    (records as Record<string, unknown[]>)[kind] = list;
  }
  return { ok: true, snapshot: { writtenAt, records }, bytes: file.length };
}

/** Enough shape to be sure the store can take it (the checksum vouches for the rest: we wrote it). */
function isRecordShaped(v: unknown): boolean {
  return v !== null && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string';
}

export async function readSnapshot(path: string): Promise<SnapshotRead> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, problem: e.code === 'ENOENT' ? 'no snapshot file yet' : `cannot read: ${e.message}` };
  }
  return decodeSnapshot(file);
}

/** Write-then-rename in the same folder, synced to disk first: a reader sees the old file or the new one, never half of one. */
export async function writeSnapshotAtomically(path: string, bytes: Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes the tee's records after changes, debounced: QUIET_MS after the
 * last change, at most MAX_DELAY_MS after the first unwritten one. One write
 * at a time; a change during a write schedules another.
 */
export class SnapshotWriter {
  private timer: NodeJS.Timeout | undefined;
  private firstPending = 0;
  private writing: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Completed writes (tests and logs). */
  writes = 0;

  constructor(private readonly path: string, private readonly tee: () => SnapshotTee | null) {}

  changed(): void {
    if (this.stopped) return;
    const now = Date.now();
    if (this.firstPending === 0) this.firstPending = now;
    const due = Math.min(now + QUIET_MS, this.firstPending + MAX_DELAY_MS);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), Math.max(0, due - now));
    this.timer.unref();
  }

  /** Writes now if anything is pending (also on stop, so a clean shutdown leaves the latest state). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.firstPending === 0) return this.writing ?? Promise.resolve();
    if (this.writing) {
      this.again = true;
      return this.writing;
    }
    this.firstPending = 0;
    this.writing = this.write().finally(() => {
      this.writing = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.changed();
      }
    });
    return this.writing;
  }

  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async write(): Promise<void> {
    const tee = this.tee();
    if (tee === null || !tee.complete) return;
    const started = performance.now();
    const bytes = encodeSnapshot(tee.body());
    try {
      await writeSnapshotAtomically(this.path, bytes);
      this.writes++;
      log('debug', 'kubernetes', 'snapshot written', { file: this.path, bytes: bytes.length, ms: Math.round(performance.now() - started) });
    } catch (err) {
      log('warn', 'kubernetes', 'cannot write snapshot', { file: this.path, err: (err as Error).message });
    }
  }
}
