import { ACL_FAMILIES } from './families.js';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { zoneArgs } from '../../corefile/zones.js';
import { typeCode } from '../../dns/constants.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { AclPlugin, type Action, type AclRule, type Policy } from './acl.js';
import { NetSet } from './cidr.js';

const ACTIONS = ['allow', 'block', 'filter', 'drop'];
const SECTION = (t: string): boolean => t.toLowerCase() === 'type' || t.toLowerCase() === 'net';

/** `ACTION [type QTYPE...] [net SOURCE...]`, sections in any order, each at least once with a value. */
function parsePolicy(line: Directive): Policy {
  const action = line.name.toLowerCase();
  if (!ACTIONS.includes(action)) throw configError(line, `acl: unexpected token "${line.name}"; expect 'allow', 'block', 'filter' or 'drop'`);
  if (line.block !== null) throw configError(line, 'acl: a policy line takes no block');
  let types: Set<number> | null = new Set<number>();
  let anyType = false;
  let nets: NetSet | null = null;
  const args = line.args;
  let i = 0;
  while (i < args.length) {
    const head = args[i] ?? '';
    if (!SECTION(head)) throw configError(line, `acl: unexpected token "${head}"; expect 'type | net'`);
    const section = head.toLowerCase();
    const values: string[] = [];
    for (i++; i < args.length && !SECTION(args[i] ?? ''); i++) values.push(args[i] ?? '');
    if (values.length === 0) throw configError(line, `acl: no token specified in "${section}" section`);
    if (section === 'type') {
      for (const v of values) {
        if (v === '*') { anyType = true; continue; }
        const code = typeCode(v);
        if (code === null) throw configError(line, `acl: unexpected token "${v}"; expect legal QTYPE`);
        types?.add(code);
      }
    } else {
      nets ??= new NetSet();
      for (const v of values) {
        if (v === '*') { nets = NetSet.all(); continue; }
        if (!nets.add(v)) throw configError(line, `acl: illegal CIDR notation "${v}"`);
      }
    }
  }
  // No `type` section, or a `*` in one: every type. No `net` section: every source.
  if (anyType || types.size === 0) types = null;
  return { action: action as Action, types, nets: nets ?? NetSet.all() };
}

function parseRule(d: Directive, blockZones: string[]): AclRule {
  const zones = d.args.length > 0 ? zoneArgs(d.args, d, 'acl') : blockZones;
  return { zones, policies: (d.block ?? []).map(parsePolicy) };
}

export const aclPlugin: PluginDefinition = {
  name: 'acl',
  // As CoreDNS: every `acl` of a block is one plugin, its rules in file order (an `allow` ends the search for all of them).
  multiple: true,
  metrics: ACL_FAMILIES,
  setup: (d, ctx) => {
    const all = ctx.block.directives.filter((x) => x.name === 'acl');
    if (all[0] !== d) return null;
    return new AclPlugin(all.map((x) => parseRule(x, ctx.block.zones)));
  },
};
