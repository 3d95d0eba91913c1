import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { unknownOption } from '../../corefile/options.js';
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
  const classes = new Set<ResponseClass>();
  let all = false;
  for (const opt of d.block ?? []) {
    if (opt.name !== 'class') throw unknownOption(opt, 'log', ['class']);
    if (opt.args.length === 0) throw configError(opt, `log: class needs at least one of ${CLASSES.join(', ')}`);
    for (const c of opt.args) {
      if (!CLASSES.includes(c)) throw configError(opt, `log: unknown class "${c}"; accepted: ${CLASSES.join(', ')}`);
      if (c === 'all') all = true; else classes.add(c as ResponseClass);
    }
  }
  const wanted = all || classes.size === 0 ? null : classes;
  const compiled = compileFormat(format);
  return (names.length > 0 ? names : ['.']).map((n) => ({ name: nameKey(n), format: compiled, classes: wanted }));
}
