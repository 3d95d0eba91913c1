import type { Directive } from '../../corefile/ast.js';
import { expectArgs, noBlock, parseHostPort } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { ReadyPlugin } from './ready.js';

export interface ReadyOptions {
  /** "" = every interface. */
  host: string;
  port: number;
}

export const READY_DEFAULT_PORT = 8181;

export function parseReady(d: Directive): ReadyOptions {
  expectArgs(d, 0, 1, 'ready [ADDRESS]');
  noBlock(d);
  return d.args[0] === undefined ? { host: '', port: READY_DEFAULT_PORT } : parseHostPort(d.args[0], READY_DEFAULT_PORT, d);
}

export const readyPlugin: PluginDefinition = {
  name: 'ready',
  setup: (d, ctx) => new ReadyPlugin(parseReady(d), ctx.services),
};
