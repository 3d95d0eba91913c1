import type { Directive } from '../../corefile/ast.js';
import { expectArgs, noBlock, parseHostPort } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { ExplainPlugin } from './explain.js';

export interface ExplainOptions {
  host: string;
  port: number;
}

export const EXPLAIN_DEFAULT_HOST = '127.0.0.1';
export const EXPLAIN_DEFAULT_PORT = 8053;

/**
 * `explain [ADDRESS]` (a clusterdns extension): loopback unless an address
 * names another host, since its answers describe the cluster's objects. An
 * empty host (":8053") means loopback too; every interface must be spelled
 * out (0.0.0.0, [::]).
 */
export function parseExplain(d: Directive): ExplainOptions {
  expectArgs(d, 0, 1, 'explain [ADDRESS]');
  noBlock(d);
  if (d.args[0] === undefined) return { host: EXPLAIN_DEFAULT_HOST, port: EXPLAIN_DEFAULT_PORT };
  const { host, port } = parseHostPort(d.args[0], EXPLAIN_DEFAULT_PORT, d);
  return { host: host === '' ? EXPLAIN_DEFAULT_HOST : host, port };
}

export const explainPlugin: PluginDefinition = {
  name: 'explain',
  setup: (d, ctx) => new ExplainPlugin(parseExplain(d), ctx.services),
};
