import { dirname, isAbsolute, resolve } from 'node:path';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { Fallthrough } from '../../corefile/fallthrough.js';
import { expectArgs, parseDuration } from '../../corefile/options.js';
import { type OptionTable, walkOptions } from '../../corefile/walk.js';
import { zoneArgs } from '../../corefile/zones.js';
import { log } from '../../log.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { FilePlugin, type FileOptions, loadZonesSync } from './file.js';
import { ZoneError } from './zone-parse.js';

const OPTIONS: OptionTable<FileOptions> = {
  reload: { args: [1, 1], usage: 'reload DURATION (0 disables)', apply(f, o) { f.reloadMs = parseDuration(o.args[0] ?? '', o); } },
  reload_by_mtime: { args: [0, 0], usage: 'reload_by_mtime', apply(f) { f.reloadByMtime = true; } },
  fallthrough: { args: [0, Infinity], usage: 'fallthrough [ZONES...]', apply(f, o) { f.fallthrough = Fallthrough.parse(o, 'file'); } },
  upstream: {
    args: [0, Infinity], usage: 'upstream',
    // CoreDNS still accepts and ignores it: CNAME targets outside the zone are always resolved through the server.
    apply(_f, o) { log('warn', 'file', 'upstream is obsolete and ignored', { at: `${o.file}:${o.line}` }); },
  },
};

/** `file DBFILE [ZONES...] { reload DURATION; reload_by_mtime; fallthrough [ZONES...] }` */
export function parseFile(d: Directive, blockZones: readonly string[]): FileOptions {
  expectArgs(d, 1, Infinity, 'file DBFILE [ZONES...]');
  const file = d.args[0] ?? '';
  const zones = d.args.slice(1);
  // Relative to the Corefile's folder, as the kubernetes plugin's paths (CoreDNS: the `root` folder).
  const path = isAbsolute(file) ? file : resolve(dirname(d.file), file);
  const opts: FileOptions = {
    path,
    origins: zones.length > 0 ? zoneArgs(zones, d, 'file') : [...blockZones],
    reloadMs: 60_000,
    reloadByMtime: false,
    fallthrough: Fallthrough.never,
  };
  walkOptions(d, 'file', OPTIONS, opts);
  return opts;
}

export const filePlugin: PluginDefinition = {
  name: 'file',
  // Several zone files per server block, each its own directive (CoreDNS).
  multiple: true,
  setup(d, ctx) {
    const opts = parseFile(d, ctx.block.zones);
    let initial: ReturnType<typeof loadZonesSync>;
    try {
      initial = loadZonesSync(opts.path, opts.origins);
    } catch (err) {
      if (err instanceof ZoneError) throw configError(d, `file: ${err.message}`);
      throw configError(d, `file: cannot read zone file "${opts.path}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (initial === null) {
      // As CoreDNS: fatal without reload, else served as SERVFAIL until the file appears.
      if (opts.reloadMs === 0) throw configError(d, `file: zone file "${opts.path}" does not exist`);
      log('warn', 'file', `Failed to open "${opts.path}": trying again in ${opts.reloadMs / 1000}s`);
    }
    return new FilePlugin(opts, ctx.resolve, initial);
  },
};
