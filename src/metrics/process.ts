// process_* and nodejs_* metrics under the names (and help texts) that
// prom-client's default metrics used, read at scrape time from
// process.memoryUsage(), process.cpuUsage(), /proc/self and (heap spaces)
// node:v8, fetched at the first scrape, not imported. prom-client's defaults
// also kept perf_hooks observers running for GC and event-loop percentile
// figures, and read libuv handle lists, that no dashboard or alert of ours
// reads; those are not exported (the prometheus plugin's README lists what is).

import { readdirSync, readFileSync } from 'node:fs';
import type { FamilyDef } from './exposition.js';
import type { Sample } from './snapshot.js';

/** The families, in prom-client's order. Linux-only figures are left out elsewhere. */
export function processFamilies(): FamilyDef[] {
  const linux = process.platform === 'linux';
  const one = (value: number): Sample[] => [{ labels: {}, value }];
  const gauge = (name: string, help: string, read: () => Sample[], aggregator: FamilyDef['aggregator'] = 'sum'): FamilyDef =>
    ({ name, help, type: 'gauge', aggregator, read });
  const counter = (name: string, help: string, read: () => Sample[]): FamilyDef =>
    ({ name, help, type: 'counter', aggregator: 'sum', read });
  const lag = new EventLoopLag();
  const out: FamilyDef[] = [
    counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', () => one(process.cpuUsage().user / 1e6)),
    counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', () => one(process.cpuUsage().system / 1e6)),
    counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', () => {
      const u = process.cpuUsage();
      return one((u.user + u.system) / 1e6);
    }),
    // Per process: a sum over `--workers` would mean nothing.
    gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => one(START_TIME), 'omit'),
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => one(linux ? (procStatus().VmRSS ?? process.memoryUsage.rss()) : process.memoryUsage.rss())),
  ];
  if (linux) {
    out.push(
      gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.', () => optional(procStatus().VmSize)),
      gauge('process_heap_bytes', 'Process heap size in bytes.', () => optional(procStatus().VmData)),
      gauge('process_open_fds', 'Number of open file descriptors.', () => optional(openFds())),
    );
    const max = maxFds();
    if (max !== undefined) out.push(gauge('process_max_fds', 'Maximum number of open file descriptors.', () => one(max)));
  }
  out.push(
    gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', () => one(lag.sample()), 'average'),
    gauge('nodejs_active_resources', 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.', activeResources),
    gauge('nodejs_active_resources_total', 'Total number of active resources.', () => one(process.getActiveResourcesInfo().length)),
    gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', () => one(process.memoryUsage().heapTotal)),
    gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', () => one(process.memoryUsage().heapUsed)),
    gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', () => one(process.memoryUsage().external)),
    ...HEAP_SPACE_FIGURES.map((figure) =>
      gauge(`nodejs_heap_space_size_${figure}_bytes`, `Process heap space size ${figure} from Node.js in bytes.`, () => heapSpaces(figure))),
    gauge('nodejs_version_info', 'Node.js version info.', versionInfo, 'first'),
  );
  return out;
}

/** Whole seconds, as prom-client computed it. */
const START_TIME = Math.round(Date.now() / 1000 - process.uptime());

function optional(v: number | undefined): Sample[] {
  return v === undefined ? [] : [{ labels: {}, value: v }];
}

/**
 * /proc/self/status's memory lines in bytes, read once per scrape (the
 * three families reading it are collected in one synchronous sweep).
 */
let status: { at: number; fields: Record<string, number> } | null = null;
function procStatus(): Record<string, number> {
  const now = Date.now();
  if (status !== null && now - status.at < 100) return status.fields;
  const fields: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const m = /^(Vm\w+):\s+(\d+) kB$/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined) fields[m[1]] = Number(m[2]) * 1024;
    }
  } catch {
    // No procfs (a sandbox): the families read as absent.
  }
  status = { at: now, fields };
  return fields;
}

function openFds(): number | undefined {
  try {
    // readdir holds a descriptor of its own while it reads the directory.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/** The soft limit on open files (it does not change while the process runs). */
function maxFds(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/ {2,}/)[1];
    const n = Number(soft);
    return soft !== undefined && Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function activeResources(): Sample[] {
  const byType = new Map<string, number>();
  for (const t of process.getActiveResourcesInfo()) byType.set(t, (byType.get(t) ?? 0) + 1);
  return [...byType].map(([type, value]) => ({ labels: { type }, value }));
}

const HEAP_SPACE_FIGURES = ['total', 'used', 'available'] as const;

/**
 * V8's heap spaces ("new", "old", "code", ...). node:v8 is fetched when a
 * scrape asks, not imported: a process that is never scraped does not load it.
 */
function heapSpaces(figure: typeof HEAP_SPACE_FIGURES[number]): Sample[] {
  return process.getBuiltinModule('node:v8').getHeapSpaceStatistics().map((s) => ({
    labels: { space: s.space_name.replace(/_space$/, '') },
    value: figure === 'total' ? s.space_size : figure === 'used' ? s.space_used_size : s.space_available_size,
  }));
}

function versionInfo(): Sample[] {
  const [major = '', minor = '', patch = ''] = process.version.slice(1).split('.');
  return [{ labels: { version: process.version, major, minor, patch }, value: 1 }];
}

/**
 * prom-client's measure: each scrape schedules a setImmediate and reports
 * how late the previous one ran. No timer runs between scrapes.
 */
class EventLoopLag {
  private last = 0;

  sample(): number {
    const start = process.hrtime.bigint();
    setImmediate(() => { this.last = Number(process.hrtime.bigint() - start) / 1e9; });
    return this.last;
  }
}
