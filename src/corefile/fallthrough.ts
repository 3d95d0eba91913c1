// `fallthrough [ZONES...]`, as hosts and kubernetes (and CoreDNS's
// plugin/pkg/fall) read it: names the plugin would answer NXDOMAIN for go
// down the chain instead, for every name or only below ZONES.

import type { Directive } from './ast.js';
import { isSubdomain } from '../dns/names.js';
import { zoneArgs } from './zones.js';

export class Fallthrough {
  /** No `fallthrough` line. */
  static readonly never = new Fallthrough(null);

  /** null: never; []: every name; else names at or below these zones (lower-case, root ""). */
  private constructor(readonly zones: readonly string[] | null) {}

  /** A `fallthrough [ZONES...]` line; no zones = every name. */
  static parse(o: Directive, plugin: string): Fallthrough {
    return new Fallthrough(o.args.length > 0 ? zoneArgs(o.args, o, plugin) : []);
  }

  get enabled(): boolean {
    return this.zones !== null;
  }

  /** Does a query for `lname` (lower-case, no trailing dot) fall through? */
  matches(lname: string): boolean {
    const z = this.zones;
    if (z === null) return false;
    if (z.length === 0) return true;
    for (const zone of z) if (isSubdomain(lname, zone)) return true;
    return false;
  }
}
