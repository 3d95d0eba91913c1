import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { Fallthrough } from '../../corefile/fallthrough.js';
import { parseDuration, parseIntArg } from '../../corefile/options.js';
import { unknownOptionError, walkOptions, type OptionTable } from '../../corefile/walk.js';
import { isValidName, nameKey } from '../../dns/names.js';
import { log } from '../../log.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { inZones, zoneArgs } from '../../corefile/zones.js';
import { HostsPlugin, parseHostIP, type HostLine, type HostsOptions } from './hosts.js';

export function parseHosts(d: Directive, blockZoneList: readonly string[]): HostsOptions {
  // A relative FILE is taken from the working directory, as CoreDNS does without `root`.
  const file = d.args[0] ?? '/etc/hosts';
  const path = isAbsolute(file) ? file : resolve(file);
  const zones = d.args.length > 1 ? zoneArgs(d.args.slice(1), d, 'hosts') : [...blockZoneList];
  try {
    if (statSync(path).isDirectory()) log('warn', 'hosts', 'hosts file is a directory', { path });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') log('warn', 'hosts', 'hosts file does not exist', { path });
    else throw configError(d, `hosts: unable to access hosts file "${path}": ${code ?? String(err)}`);
  }
  const opts: HostsOptions = {
    path, zones, ttl: 3600, reverse: true, reloadMs: 5000, fallthrough: Fallthrough.never, fallthroughUnsupported: false, inline: [],
  };
  walkOptions(d, 'hosts', HOSTS_OPTIONS, opts, {
    other: { take: (o) => { opts.inline.push(inlineLine(o, zones)); return true; }, hint: 'or an inline "IP NAME..." line' },
  });
  const unsupportedLine = d.block?.find((x) => x.name === 'fallthrough_unsupported');
  if (unsupportedLine && !opts.fallthrough.enabled) throw configError(unsupportedLine, 'hosts: fallthrough_unsupported needs fallthrough');
  return opts;
}

const HOSTS_OPTIONS: OptionTable<HostsOptions> = {
  ttl: { args: [1, 1], usage: 'ttl SECONDS', apply(h, o) { h.ttl = parseIntArg(o.args[0] ?? '', o, 1, 65535, 'hosts ttl (seconds)'); } },
  no_reverse: { args: [0, 0], usage: 'no_reverse', apply(h) { h.reverse = false; } },
  reload: { args: [1, 1], usage: 'reload DURATION (0 disables)', apply(h, o) { h.reloadMs = parseDuration(o.args[0] ?? '', o); } },
  fallthrough: { args: [0, Infinity], usage: 'fallthrough [ZONES...]', apply(h, o) { h.fallthrough = Fallthrough.parse(o, 'hosts'); } },
  fallthrough_unsupported: { args: [0, 0], usage: 'fallthrough_unsupported', apply(h) { h.fallthroughUnsupported = true; } },
};

/** An inline "IP NAME..." line: the directive's name is the IP, its args the names. */
function inlineLine(o: Directive, zones: string[]): HostLine {
  const ip = parseHostIP(o.name);
  if (ip === null) throw unknownOptionError(o, 'hosts', Object.keys(HOSTS_OPTIONS), 'or an inline "IP NAME..." line');
  if (o.block !== null) throw configError(o, `hosts: inline line "${o.name}" takes no block`);
  if (o.args.length === 0) throw configError(o, `hosts: inline line "${o.name}" needs at least one name`);
  const names = o.args.map((n) => {
    const k = nameKey(n);
    if (k === '' || !isValidName(k)) throw configError(o, `hosts: invalid host name "${n}"`);
    return k;
  });
  for (const n of names) {
    if (!inZones(n, zones)) log('warn', 'hosts', 'inline name outside the plugin zones is ignored', { name: n, at: `${o.file}:${o.line}` });
  }
  return { ...ip, names };
}

export const hostsPlugin: PluginDefinition = {
  name: 'hosts',
  setup: (d, ctx) => new HostsPlugin(parseHosts(d, ctx.block.zones)),
};
