import { dirname, isAbsolute, resolve } from 'node:path';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, noBlock, parseDuration, unknownOption } from '../../corefile/options.js';
import { zoneArgs } from '../../corefile/zones.js';
import { log } from '../../log.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { FilePlugin, type FileOptions, loadZonesSync } from './file.js';
import { ZoneError } from './zone-parse.js';

const OPTIONS = ['reload', 'reload_by_mtime', 'fallthrough', 'upstream'];

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
    fallthrough: null,
  };
  const seen = new Set<string>();
  for (const o of d.block ?? []) {
    if (!OPTIONS.includes(o.name)) throw unknownOption(o, 'file', OPTIONS.filter((x) => x !== 'upstream'));
    if (seen.has(o.name)) throw configError(o, `file: "${o.name}" is given twice; give it once`);
    seen.add(o.name);
    noBlock(o);
    switch (o.name) {
      case 'reload':
        expectArgs(o, 1, 1, 'reload DURATION (0 disables)');
        opts.reloadMs = parseDuration(o.args[0] ?? '', o);
        break;
      case 'reload_by_mtime':
        expectArgs(o, 0, 0, 'reload_by_mtime');
        opts.reloadByMtime = true;
        break;
      case 'fallthrough':
        opts.fallthrough = o.args.length > 0 ? zoneArgs(o.args, o, 'file') : [];
        break;
      case 'upstream':
        // CoreDNS still accepts and ignores it: CNAME targets outside the zone are always resolved through the server.
        log('warn', 'file', 'upstream is obsolete and ignored', { at: `${o.file}:${o.line}` });
        break;
    }
  }
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
