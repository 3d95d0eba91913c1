import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { walkOptions, type OptionTable } from '../../corefile/walk.js';
import type { ResponseClass } from '../../dns/classify.js';
import { nameKey } from '../../dns/names.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { LogPlugin } from './log.js';

export interface LogOptions {
  /** Lower-case names; a query is logged when at or below one of them. */
  names: string[];
  classes: Set<ResponseClass>;
}

const CLASSES = ['success', 'denial', 'error', 'all'];

export function parseLog(d: Directive, zones: string[]): LogOptions {
  for (const a of d.args) {
    if (a.includes('{') || a.includes(' ')) throw configError(d, 'log: custom formats are not supported; use log [NAMES...]');
  }
  const names = d.args.length > 0 ? d.args.map(nameKey) : zones;
  const opts: LogOptions = { names, classes: new Set() };
  walkOptions(d, 'log', LOG_OPTIONS, opts);
  if (opts.classes.size === 0) opts.classes = new Set(ALL_CLASSES);
  return opts;
}

const ALL_CLASSES: readonly ResponseClass[] = ['success', 'denial', 'error'];

const LOG_OPTIONS: OptionTable<LogOptions> = {
  class: {
    args: [1, Infinity], usage: 'class success|denial|error|all...', repeat: true,
    apply(l, o) {
      for (const c of o.args) {
        if (c === 'all') for (const a of ALL_CLASSES) l.classes.add(a);
        else if (c === 'success' || c === 'denial' || c === 'error') l.classes.add(c);
        else throw configError(o, `log: unknown class "${c}"; accepted: ${CLASSES.join(', ')}`);
      }
    },
  },
};

export const logPlugin: PluginDefinition = {
  name: 'log',
  setup: (d, ctx) => new LogPlugin(parseLog(d, ctx.block.zones)),
};
