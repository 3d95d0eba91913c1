import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, parseDuration, unknownOption } from '../../corefile/options.js';
import type { Level } from '../../log.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { ErrorsPlugin } from './errors.js';

export interface Consolidation { periodMs: number; pattern: RegExp; level: Level }
export interface ErrorsOptions { stacktrace: boolean; consolidate: Consolidation[] }

const LEVELS: Record<string, Level> = { warning: 'warn', error: 'error', info: 'info' };

export function parseErrors(d: Directive): ErrorsOptions {
  expectArgs(d, 0, 0, 'errors [{ consolidate DURATION REGEXP [LEVEL]; stacktrace }]');
  const opts: ErrorsOptions = { stacktrace: false, consolidate: [] };
  for (const o of d.block ?? []) {
    if (o.name === 'stacktrace') {
      expectArgs(o, 0, 0, 'stacktrace');
      opts.stacktrace = true;
    } else if (o.name === 'consolidate') {
      expectArgs(o, 2, 3, 'consolidate DURATION REGEXP [warning|error|info]');
      let pattern: RegExp;
      try { pattern = new RegExp(o.args[1]!); } catch { throw configError(o, `errors: bad regular expression "${o.args[1]}"`); }
      const lv = o.args[2] ?? 'error';
      const level = LEVELS[lv];
      if (!level) throw configError(o, `errors: unknown level "${lv}"; accepted: warning, error, info`);
      opts.consolidate.push({ periodMs: parseDuration(o.args[0]!, o), pattern, level });
    } else {
      throw unknownOption(o, 'errors', ['consolidate', 'stacktrace']);
    }
  }
  return opts;
}

export const errorsPlugin: PluginDefinition = {
  name: 'errors',
  setup: (d) => new ErrorsPlugin(parseErrors(d)),
};
