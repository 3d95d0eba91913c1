// How many queries may wait on upstreams at once. Each one holds a UDP
// socket per attempt (up to 3) and maybe a TCP connection: unbounded, a
// silent upstream under load takes every file descriptor of the process, and
// then health checks, metrics and new TCP clients fail too (EMFILE).

import { readFileSync } from 'node:fs';

/** A count of queries in flight against a maximum, shared by whoever holds the same object. */
export class InflightLimit {
  inflight = 0;

  /** `implicit`: not asked for in the Corefile (the default bound). */
  constructor(readonly max: number, readonly implicit = false) {}

  /** Takes a slot; false when all are taken. */
  take(): boolean {
    if (this.inflight >= this.max) return false;
    this.inflight++;
    return true;
  }

  release(): void {
    this.inflight--;
  }
}

/** The soft RLIMIT_NOFILE of this process (Linux /proc), or the usual 1024 where it can't be read. */
export function fileDescriptorLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch { /* not Linux */ }
  return 1024;
}

/** Sockets per query at worst (3 UDP attempts and a TCP retry), so the bound stays well below the limit. */
const FDS_PER_QUERY = 8;
export const DEFAULT_MAX_CONCURRENT_CAP = 1000;

/**
 * The bound used when no `max_concurrent` is given: kubeadm's 1000, or an
 * eighth of the descriptor limit when that is lower (at least 16).
 */
export function defaultMaxConcurrent(fdLimit = fileDescriptorLimit()): number {
  return Math.min(DEFAULT_MAX_CONCURRENT_CAP, Math.max(16, Math.floor(fdLimit / FDS_PER_QUERY)));
}

let shared: InflightLimit | null = null;

/** The default bound, one per process: every forward line without max_concurrent shares the descriptors. */
export function sharedDefaultLimit(): InflightLimit {
  shared ??= new InflightLimit(defaultMaxConcurrent(), true);
  return shared;
}
