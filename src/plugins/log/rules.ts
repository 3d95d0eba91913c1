import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { type OptionTable, walkOptions } from '../../corefile/walk.js';
import type { ResponseClass } from '../../dns/classify.js';
import { nameKey } from '../../dns/names.js';
import { COMMON_FORMAT, compileFormat, type Format } from './format.js';

/** One NAME of a `log` directive: queries at or below it are logged with its format, if their class is wanted. */
export interface LogRule {
  /** Lower-case, "" for the root. */
  name: string;
  format: Format;
  /** null: every class (`all`, the default), so nothing is classified. */
  classes: ReadonlySet<ResponseClass> | null;
}

const CLASSES = ['success', 'denial', 'error', 'all'];

/** `class` lines add up (CoreDNS ORs them); `all`, or no class line, logs every class. */
const OPTIONS: OptionTable<{ classes: Set<ResponseClass>; all: boolean }> = {
  class: {
    args: [1, Infinity], usage: 'class success|denial|error|all...', repeat: true,
    apply(seen, o) {
      for (const c of o.args) {
        if (!CLASSES.includes(c)) throw configError(o, `log: unknown class "${c}"; accepted: ${CLASSES.join(', ')}`);
        if (c === 'all') seen.all = true; else seen.classes.add(c as ResponseClass);
      }
    },
  },
};

/**
 * CoreDNS's rules: `log` logs everything with the common format; `log NAME`
 * one name; `log NAMES... FORMAT` when the last argument holds a "{". The
 * block's `class` lines (several OR together) apply to this directive's names.
 */
export function parseLogDirective(d: Directive): LogRule[] {
  let names = d.args;
  let format = COMMON_FORMAT;
  const last = d.args[d.args.length - 1];
  if (d.args.length === 1 && last !== undefined && last.includes('{')) {
    // CoreDNS would take it as a NAME and never log anything.
    throw configError(d, `log: a single argument is a NAME, not a format; write: log . ${JSON.stringify(last)}`);
  }
  if (d.args.length >= 2 && last !== undefined && last.includes('{')) {
    format = last;
    names = d.args.slice(0, -1);
  }
  const seen = { classes: new Set<ResponseClass>(), all: false };
  walkOptions(d, 'log', OPTIONS, seen);
  const wanted = seen.all || seen.classes.size === 0 ? null : seen.classes;
  const compiled = compileFormat(format);
  return (names.length > 0 ? names : ['.']).map((n) => ({ name: nameKey(n), format: compiled, classes: wanted }));
}
