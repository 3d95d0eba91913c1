import net from 'node:net';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { type OptionTable, walkOptions } from '../../corefile/walk.js';
import { zoneArgs } from '../../corefile/zones.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { TransferPlugin, type TransferRule } from './transfer.js';

interface Parsed {
  /** Each `to` argument with its line, for errors. */
  to: Array<{ arg: string; at: Directive }>;
  source: string | null;
}

const OPTIONS: OptionTable<Parsed> = {
  to: { args: [1, Infinity], repeat: true, usage: 'to ADDRESS...', apply(p, o) { for (const arg of o.args) p.to.push({ arg, at: o }); } },
  source: {
    args: [1, 1], usage: 'source ADDRESS',
    apply(p, o) {
      const ip = o.args[0] ?? '';
      if (net.isIP(ip) === 0) throw configError(o, `transfer: invalid source address "${ip}"`);
      p.source = ip;
    },
  },
};

/** "1.2.3.4", "1.2.3.4:5300", "[::1]:5300", "::1", "10.0.0.0/8" (CIDR: a clusterdns extension) -> added to `list`. */
function allow(list: net.BlockList, arg: string, at: Directive): void {
  const slash = arg.indexOf('/');
  if (slash > 0) {
    const ip = arg.slice(0, slash);
    const bits = Number(arg.slice(slash + 1));
    const family = net.isIP(ip);
    if (family !== 0 && /^\d+$/.test(arg.slice(slash + 1)) && bits <= (family === 4 ? 32 : 128)) {
      list.addSubnet(ip, bits, family === 4 ? 'ipv4' : 'ipv6');
      return;
    }
    throw configError(at, `transfer: "to ${arg}": not a CIDR`);
  }
  let ip = arg;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(arg);
  if (bracket !== null) ip = bracket[1] ?? '';
  else if (net.isIP(arg) === 0 && /^[^:]+:\d+$/.test(arg)) ip = arg.slice(0, arg.lastIndexOf(':'));
  const family = net.isIP(ip);
  // The port only says where NOTIFY would go; who may transfer is decided by address, as CoreDNS.
  if (family === 0) throw configError(at, `transfer: "to ${arg}": must specify an IP address, a CIDR or *`);
  list.addAddress(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** `transfer [ZONE...] { to ADDRESS...; source ADDRESS }` */
export function parseTransfer(d: Directive, blockZones: readonly string[]): TransferRule {
  const p: Parsed = { to: [], source: null };
  walkOptions(d, 'transfer', OPTIONS, p);
  if (p.to.length === 0) throw configError(d, "transfer: 'to' is required");
  const list = new net.BlockList();
  let anyone = false;
  for (const { arg, at } of p.to) {
    if (arg === '*') anyone = true;
    else allow(list, arg, at);
  }
  return {
    zones: d.args.length > 0 ? zoneArgs(d.args, d, 'transfer') : [...blockZones],
    anyone,
    allowed: list,
  };
}

export const transferPlugin: PluginDefinition = {
  name: 'transfer',
  // Several `transfer` lines in a block are read together (CoreDNS): the longest zone match decides.
  multiple: true,
  setup(d, ctx) {
    return new TransferPlugin(parseTransfer(d, ctx.block.zones));
  },
};
