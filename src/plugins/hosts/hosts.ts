import { readFileSync, type Stats, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Periodic } from '../periodic.js';
import { QTYPE, RCODE } from '../../dns/constants.js';
import { canonicalIP, isValidName, nameKey, reverseName } from '../../dns/names.js';
import { failure, records, type Reply, type RR } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';
import { inZones } from '../../corefile/zones.js';
import type { Fallthrough } from '../../corefile/fallthrough.js';

/** One "IP NAME..." line, IP canonical, names lower-case without trailing dot. */
export interface HostLine {
  ip: string;
  v6: boolean;
  names: string[];
}

export interface HostsOptions {
  /** Absolute path of the hosts file. */
  path: string;
  /** Lower-case zones, the root as "". */
  zones: string[];
  ttl: number;
  reverse: boolean;
  /** 0: never re-read. */
  reloadMs: number;
  fallthrough: Fallthrough;
  fallthroughUnsupported: boolean;
  inline: HostLine[];
}

/** "10.0.0.1", "fe80::1%eth0" (zone dropped, as CoreDNS) -> canonical IP and family, or null. */
export function parseHostIP(s: string): { ip: string; v6: boolean } | null {
  const pct = s.indexOf('%');
  const ip = canonicalIP(pct >= 0 ? s.slice(0, pct) : s);
  return ip === null ? null : { ip, v6: ip.includes(':') };
}

/** hosts(5) text -> lines; comments, lines without a valid IP, and invalid names are skipped. */
export function parseHostsText(text: string): HostLine[] {
  const out: HostLine[] = [];
  for (let line of text.split('\n')) {
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    const f = line.split(/\s+/).filter((x) => x !== '');
    const [first, ...rest] = f;
    if (first === undefined || rest.length === 0) continue;
    const ip = parseHostIP(first);
    if (ip === null) continue;
    const names = f.slice(1).map(nameKey).filter((n) => n !== '' && isValidName(n));
    if (names.length > 0) out.push({ ...ip, names });
  }
  return out;
}

/** Answers ready to send: one array per name and type, built when the data changes. */
interface Table {
  a: Map<string, RR[]>;
  aaaa: Map<string, RR[]>;
  ptr: Map<string, RR[]>;
  /** As CoreDNS's coredns_hosts_entries: addresses by name plus names by address. */
  entries: number;
}

export class HostsPlugin implements Plugin {
  readonly name = 'hosts';
  private table: Table;
  private fileLines: HostLine[] = [];
  private mtimeMs = -1;
  private size = -1;
  private readonly poll: Periodic;
  private checking = false;
  /** Date.now() of the last (re)load, for metrics. */
  reloadedAt = 0;

  constructor(readonly opts: HostsOptions) {
    this.poll = new Periodic(opts.reloadMs, () => this.check());
    this.table = this.build();
  }

  /** Entries in file and inline data together. */
  get entries(): number {
    return this.table.entries;
  }

  start(): void {
    this.loadSync();
    this.poll.start();
  }

  stop(): void {
    this.poll.stop();
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const lname = req.lname;
    const t = this.table;
    const type = req.type;
    if (!inZones(lname, this.opts.zones)) {
      // Reverse names need not be in the zones (CoreDNS): answer PTR for any address we know.
      if (type !== QTYPE.PTR) return next(req);
    }
    let answer: RR[] | undefined;
    if (type === QTYPE.PTR) {
      answer = t.ptr.get(lname);
      // An address we don't know goes on, fallthrough or not (CoreDNS).
      if (answer === undefined) return next(req);
    } else if (type === QTYPE.A) {
      answer = lookup(t.a, lname);
    } else if (type === QTYPE.AAAA) {
      answer = lookup(t.aaaa, lname);
    }
    if (answer === undefined) {
      const exists = lookup(t.a, lname) !== undefined || lookup(t.aaaa, lname) !== undefined;
      if (!exists) {
        if (this.fallsThrough(lname)) return next(req);
        // CoreDNS: "we want to send NXDOMAIN, but we have no SOA", so SERVFAIL.
        return failure(RCODE.SERVFAIL, 'hosts');
      }
      if (this.opts.fallthroughUnsupported && type !== QTYPE.A && type !== QTYPE.AAAA && this.fallsThrough(lname)) return next(req);
      answer = []; // NODATA: the name exists, not with this type
    }
    return records(RCODE.NOERROR, 'hosts', true, answer);
  }

  private fallsThrough(lname: string): boolean {
    return this.opts.fallthrough.matches(lname);
  }

  /** First read, at start: synchronous, so the first query already sees the file. */
  private loadSync(): void {
    let st: Stats;
    try {
      st = statSync(this.opts.path);
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      this.apply(parseHostsText(readFileSync(this.opts.path, 'latin1')), st);
    } catch (err) {
      this.missing(err);
    }
  }

  /** Every reload interval: re-read when the file's mtime or size changed (CoreDNS). */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const st = await stat(this.opts.path);
      if (st.mtimeMs === this.mtimeMs && st.size === this.size) return;
      const text = await readFile(this.opts.path, 'latin1');
      this.apply(parseHostsText(text), st);
    } catch (err) {
      this.missing(err);
    } finally {
      this.checking = false;
    }
  }

  private apply(lines: HostLine[], st: Stats): void {
    this.fileLines = lines;
    this.mtimeMs = st.mtimeMs;
    this.size = st.size;
    this.table = this.build();
    this.reloadedAt = Date.now();
    log('debug', 'hosts', 'loaded', { path: this.opts.path, entries: this.table.entries });
  }

  /** A deleted file leaves the inline entries; other read errors keep the last good data. */
  private missing(err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      if (this.mtimeMs !== -2) log('warn', 'hosts', code === 'ENOENT' ? 'hosts file does not exist' : 'hosts file is a directory', { path: this.opts.path });
      this.fileLines = [];
      this.mtimeMs = -2;
      this.size = -2;
      this.table = this.build();
      return;
    }
    log('error', 'hosts', 'cannot read hosts file', { path: this.opts.path, err });
  }

  /** File entries first, then inline ones; names outside the zones are ignored. */
  private build(): Table {
    const { zones, ttl, reverse, inline } = this.opts;
    const a = new Map<string, RR[]>();
    const aaaa = new Map<string, RR[]>();
    const ptr = new Map<string, RR[]>();
    let entries = 0;
    for (const lines of [this.fileLines, inline]) {
      for (const { ip, v6, names } of lines) {
        for (const name of names) {
          if (!inZones(name, zones)) continue;
          const m = v6 ? aaaa : a;
          let list = m.get(name);
          if (list === undefined) m.set(name, list = []);
          if (list.some((rr) => (rr as { data?: unknown }).data === ip)) continue;
          list.push({ name, type: v6 ? 'AAAA' : 'A', class: 'IN', ttl, data: ip });
          entries++;
          if (!reverse || name.startsWith('*.')) continue;
          const rev = reverseName(ip);
          if (rev === null) continue;
          let names2 = ptr.get(rev);
          if (names2 === undefined) ptr.set(rev, names2 = []);
          if (names2.some((rr) => (rr as { data?: unknown }).data === name)) continue;
          names2.push({ name: rev, type: 'PTR', class: 'IN', ttl, data: name });
          entries++;
        }
      }
    }
    return { a, aaaa, ptr, entries };
  }
}

/** Exact name, else a "*.parent" entry matching exactly one more label (not the apex). */
function lookup(m: Map<string, RR[]>, lname: string): RR[] | undefined {
  const exact = m.get(lname);
  if (exact !== undefined || m.size === 0) return exact;
  const dot = lname.indexOf('.');
  if (dot < 0) return undefined;
  const wild = m.get(`*${lname.slice(dot)}`);
  if (wild === undefined) return undefined;
  return wild.map((rr) => ({ ...rr, name: lname }) as RR);
}
