import type { Block } from './build.js';

/**
 * Zone -> block for one listener. Lookup walks the query name's suffixes
 * from longest to shortest, so the most specific zone wins.
 */
export class ZoneTable {
  private zones = new Map<string, Block>();

  add(key: string, block: Block): boolean {
    // Server keys spell the root ".", lookups walk down to "".
    const zone = key === '.' ? '' : key;
    if (this.zones.has(zone)) return false;
    this.zones.set(zone, block);
    return true;
  }

  /** lname is lower-case without trailing dot; returns the block and the zone it matched. */
  match(lname: string): { block: Block; zone: string } | null {
    let name = lname;
    for (;;) {
      const b = this.zones.get(name);
      if (b !== undefined) return { block: b, zone: name };
      if (name === '') break;
      const dot = name.indexOf('.');
      name = dot < 0 ? '' : name.slice(dot + 1);
    }
    return null;
  }

  blocks(): Block[] {
    return [...new Set(this.zones.values())];
  }
}
