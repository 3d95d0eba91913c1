import { internalZone, ROOT_ZONE } from '../corefile/zones.js';
import type { Block } from './build.js';
import type { Plugin } from './plugin.js';

export interface ZoneMatch { block: Block; zone: string }

/** Above this many zones, walking the name's suffixes beats testing every zone. */
const LINEAR_MAX = 16;

/**
 * Zone -> block for one listener; the most specific zone wins. With a few
 * zones (the usual case) each is tested longest-first with endsWith, which
 * allocates nothing; with many, the name's suffixes are looked up in a Map.
 */
export class ZoneTable {
  private zones = new Map<string, ZoneMatch>();
  private byLength: ZoneMatch[] = [];
  private otherClasses = new Set<number>();
  /** One plugin of each name with observeDropped, over the blocks of this listener. */
  droppedObservers: Plugin[] = [];

  add(key: string, block: Block): boolean {
    // Server keys spell the root ".", names inside clusterdns "".
    const zone = internalZone(key);
    if (this.zones.has(zone)) return false;
    const m = { block, zone };
    this.zones.set(zone, m);
    this.byLength = [...this.zones.values()].sort((a, b) => b.zone.length - a.zone.length);
    for (const c of block.classes) this.otherClasses.add(c);
    for (const p of block.plugins) {
      if (p.observeDropped && !this.droppedObservers.some((o) => o.name === p.name)) this.droppedObservers.push(p);
    }
    return true;
  }

  /** Some block here answers this class (IN: always). */
  servesClass(qclass: number): boolean {
    return qclass === 1 || this.otherClasses.has(qclass);
  }

  /** lname is lower-case without trailing dot; the match object is shared, not to be changed. */
  match(lname: string): ZoneMatch | null {
    if (this.byLength.length <= LINEAR_MAX) {
      for (const m of this.byLength) {
        const z = m.zone;
        if (z === ROOT_ZONE) return m;
        const extra = lname.length - z.length;
        if (extra === 0 ? lname === z : extra > 0 && lname.charCodeAt(extra - 1) === 46 && lname.endsWith(z)) return m;
      }
      return null;
    }
    let name = lname;
    for (;;) {
      const m = this.zones.get(name);
      if (m !== undefined) return m;
      if (name === '') return null;
      const dot = name.indexOf('.');
      name = dot < 0 ? '' : name.slice(dot + 1);
    }
  }

  blocks(): Block[] {
    return [...new Set([...this.zones.values()].map((m) => m.block))];
  }
}
