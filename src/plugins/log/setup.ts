import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { unknownOption } from '../../corefile/options.js';
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
  const classes = new Set<ResponseClass>();
  for (const opt of d.block ?? []) {
    if (opt.name !== 'class') throw unknownOption(opt, 'log', ['class']);
    if (opt.args.length === 0) throw configError(opt, 'log: class needs at least one of success, denial, error, all');
    for (const c of opt.args) {
      if (!CLASSES.includes(c)) throw configError(opt, `log: unknown class "${c}"; accepted: ${CLASSES.join(', ')}`);
      if (c === 'all') { classes.add('success'); classes.add('denial'); classes.add('error'); } else classes.add(c as ResponseClass);
    }
  }
  if (classes.size === 0) { classes.add('success'); classes.add('denial'); classes.add('error'); }
  return { names, classes };
}

export const logPlugin: PluginDefinition = {
  name: 'log',
  setup: (d, ctx) => new LogPlugin(parseLog(d, ctx.block.zones)),
};
