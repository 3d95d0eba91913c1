import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, parseDuration } from '../../corefile/options.js';
import { walkOptions, type OptionTable } from '../../corefile/walk.js';
import type { Level } from '../../log.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { ErrorsPlugin } from './errors.js';

export interface Consolidation { periodMs: number; pattern: RegExp; level: Level }
export interface ErrorsOptions { stacktrace: boolean; consolidate: Consolidation[] }

const LEVELS: Record<string, Level> = { warning: 'warn', error: 'error', info: 'info' };

export function parseErrors(d: Directive): ErrorsOptions {
  expectArgs(d, 0, 0, 'errors [{ consolidate DURATION REGEXP [LEVEL]; stacktrace }]');
  const opts: ErrorsOptions = { stacktrace: false, consolidate: [] };
  walkOptions(d, 'errors', ERRORS_OPTIONS, opts);
  return opts;
}

const ERRORS_OPTIONS: OptionTable<ErrorsOptions> = {
  consolidate: {
    args: [2, 3], usage: 'consolidate DURATION REGEXP [warning|error|info]', repeat: true,
    apply(e, o) {
      const [period = '', regexp = '', lv = 'error'] = o.args;
      let pattern: RegExp;
      try { pattern = new RegExp(regexp); } catch { throw configError(o, `errors: bad regular expression "${regexp}"`); }
      const level = LEVELS[lv];
      if (!level) throw configError(o, `errors: unknown level "${lv}"; accepted: warning, error, info`);
      e.consolidate.push({ periodMs: parseDuration(period, o), pattern, level });
    },
  },
  stacktrace: { args: [0, 0], usage: 'stacktrace', repeat: true, apply(e) { e.stacktrace = true; } },
};

export const errorsPlugin: PluginDefinition = {
  name: 'errors',
  setup: (d) => new ErrorsPlugin(parseErrors(d)),
};
