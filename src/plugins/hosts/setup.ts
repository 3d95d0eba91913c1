import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, noBlock, parseDuration, parseIntArg } from '../../corefile/options.js';
import { isValidName, nameKey } from '../../dns/names.js';
import { log } from '../../log.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { inZones, zoneArgs } from '../../corefile/zones.js';
import { HostsPlugin, parseHostIP, type HostLine, type HostsOptions } from './hosts.js';

const OPTIONS = ['ttl', 'no_reverse', 'reload', 'fallthrough', 'fallthrough_unsupported'];

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
    path, zones, ttl: 3600, reverse: true, reloadMs: 5000, fallthrough: null, fallthroughUnsupported: false, inline: [],
  };
  const seen = new Set<string>();
  for (const o of d.block ?? []) {
    noBlock(o);
    if (OPTIONS.includes(o.name)) {
      if (seen.has(o.name)) throw configError(o, `hosts: "${o.name}" is given twice; give it once`);
      seen.add(o.name);
    }
    switch (o.name) {
      case 'ttl':
        expectArgs(o, 1, 1, 'ttl SECONDS');
        opts.ttl = parseIntArg(o.args[0]!, o, 1, 65535, 'hosts ttl (seconds)');
        break;
      case 'no_reverse':
        expectArgs(o, 0, 0, 'no_reverse');
        opts.reverse = false;
        break;
      case 'reload':
        expectArgs(o, 1, 1, 'reload DURATION (0 disables)');
        opts.reloadMs = parseDuration(o.args[0]!, o);
        break;
      case 'fallthrough':
        opts.fallthrough = o.args.length > 0 ? zoneArgs(o.args, o, 'hosts') : [];
        break;
      case 'fallthrough_unsupported':
        expectArgs(o, 0, 0, 'fallthrough_unsupported');
        opts.fallthroughUnsupported = true;
        break;
      default:
        opts.inline.push(inlineLine(o, zones));
    }
  }
  if (opts.fallthroughUnsupported && opts.fallthrough === null) {
    const o = d.block!.find((x) => x.name === 'fallthrough_unsupported')!;
    throw configError(o, 'hosts: fallthrough_unsupported needs fallthrough');
  }
  return opts;
}

/** An inline "IP NAME..." line: the directive's name is the IP, its args the names. */
function inlineLine(o: Directive, zones: string[]): HostLine {
  const ip = parseHostIP(o.name);
  if (ip === null) {
    throw configError(o, `hosts: unknown option "${o.name}"; accepted: ${OPTIONS.join(', ')}, or an inline "IP NAME..." line`);
  }
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
