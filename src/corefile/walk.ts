// The one loop over the option lines of a plugin's block. Each setup.ts
// describes its options in a table (arguments, once or repeatable, how to
// apply one line); the walker checks what every plugin checks the same
// way, with one wording per kind of error, each naming FILE:LINE.

import type { Directive } from './ast.js';
import { configError } from './errors.js';

export interface OptionSpec<T> {
  /** Accepted argument counts, inclusive; max may be Infinity. */
  args: readonly [min: number, max: number];
  /** Shown when the argument count is wrong: "lameduck DURATION". */
  usage: string;
  /** May the option appear more than once? Default: no. */
  repeat?: boolean;
  /** Applies one line (argument count already checked); throws configError for a bad value. */
  apply(into: T, o: Directive): void;
}

/** Option name -> its spec. */
export type OptionTable<T> = Readonly<Record<string, OptionSpec<T>>>;

export interface WalkExtras {
  /** Options CoreDNS has and we refuse, with the reason given to the user. */
  unsupported?: Readonly<Record<string, string>>;
  /**
   * A line that names no option (hosts' inline "IP NAME..." lines): return
   * true when taken. `hint` is added to the list of accepted options.
   */
  other?: { take(o: Directive): boolean; hint: string };
}

/**
 * Walks `d`'s block against `table`, applying each line to `into`.
 * Returns the names of the options given (for checks across options).
 */
export function walkOptions<T>(d: Directive, plugin: string, table: OptionTable<T>, into: T, extras: WalkExtras = {}): ReadonlySet<string> {
  const seen = new Set<string>();
  for (const o of d.block ?? []) {
    const spec = Object.hasOwn(table, o.name) ? table[o.name] : undefined;
    if (!spec) {
      const reason = extras.unsupported?.[o.name];
      if (reason !== undefined) throw configError(o, `${plugin}: option "${o.name}" is not supported: ${reason}`);
      if (extras.other?.take(o)) continue;
      throw unknownOptionError(o, plugin, Object.keys(table), extras.other?.hint);
    }
    if (o.block !== null) throw configError(o, `${plugin}: option "${o.name}" takes no block`);
    if (seen.has(o.name) && !spec.repeat) throw givenTwice(o, plugin, o.name);
    seen.add(o.name);
    const [min, max] = spec.args;
    const n = o.args.length;
    if (n < min || n > max) throw configError(o, `${plugin}: option "${o.name}": wrong number of arguments (got ${n}); usage: ${spec.usage}`);
    spec.apply(into, o);
  }
  return seen;
}

/** The error for a line that names no option of `plugin`. */
export function unknownOptionError(o: Directive, plugin: string, accepted: readonly string[], hint?: string) {
  if (accepted.length === 0 && hint === undefined) return configError(o, `${plugin}: unknown option "${o.name}"; ${plugin} takes no options`);
  const list = [...accepted, ...(hint === undefined ? [] : [hint])].join(', ');
  return configError(o, `${plugin}: unknown option "${o.name}"; accepted: ${list}`);
}

/** The error for an option given twice; `what` may be narrower than the name ("disable success"). */
export function givenTwice(o: Directive, plugin: string, what: string) {
  return configError(o, `${plugin}: option "${what}" is given twice; give it once`);
}
