// Zone arguments of a plugin directive ("cache 30 example.org 10.0.0.0/8"),
// read as CoreDNS reads them: names or CIDRs (which stand for their reverse
// zones), lower-case. Shared by the plugins that take zone arguments.

import type { Directive } from './ast.js';
import { configError } from './errors.js';
import { parseServerKey } from './keys.js';
import { isSubdomain } from '../dns/names.js';

type At = Pick<Directive, 'file' | 'line'>;

/**
 * The root zone as plugins, blocks and Request.zone spell it: "" (so that
 * isSubdomain and lname comparisons need no special case). Server keys and
 * Corefile text spell it "."; convert at the edge with these helpers.
 */
export const ROOT_ZONE = '';

/** A zone as parsed from a key or argument ("." or "example.org") -> the internal form. */
export function internalZone(zone: string): string {
  return zone === '.' ? ROOT_ZONE : zone;
}

/** The internal form -> how a user reads it in logs and errors ("." for the root). */
export function zoneText(zone: string): string {
  return zone === ROOT_ZONE ? '.' : zone;
}

/**
 * Zone args -> lower-case zones without trailing dot, the root as "" (the
 * form isSubdomain and Request.lname use). A port is refused: it means
 * nothing inside a server block.
 */
export function zoneArgs(args: readonly string[], at: At, plugin: string): string[] {
  const out: string[] = [];
  for (const a of args) {
    const keys = parseServerKey(a, at);
    for (const k of keys) {
      if (k.port !== null) throw configError(at, `${plugin}: zone "${a}" must not carry a port`);
      const z = internalZone(k.zone);
      if (!out.includes(z)) out.push(z);
    }
  }
  return out;
}

/** Is lname at or below one of `zones`? */
export function inZones(lname: string, zones: readonly string[]): boolean {
  for (const z of zones) if (isSubdomain(lname, z)) return true;
  return false;
}
