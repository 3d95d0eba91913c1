import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, noBlock, parseDuration } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { ReloadPlugin } from './reload.js';

export interface ReloadOptions {
  intervalMs: number;
  jitterMs: number;
}

export const RELOAD_DEFAULTS: ReloadOptions = { intervalMs: 30_000, jitterMs: 15_000 };
const MIN_INTERVAL_MS = 2000;
const MIN_JITTER_MS = 1000;

/** CoreDNS's rules: INTERVAL >= 2s, JITTER >= 1s, JITTER capped at INTERVAL/2. */
export function parseReload(d: Directive): ReloadOptions {
  expectArgs(d, 0, 2, 'reload [INTERVAL] [JITTER]');
  noBlock(d);
  const intervalMs = d.args[0] === undefined ? RELOAD_DEFAULTS.intervalMs : parseDuration(d.args[0], d);
  if (intervalMs < MIN_INTERVAL_MS) throw configError(d, `reload: interval ${d.args[0]} is shorter than the minimum 2s`);
  let jitterMs = d.args[1] === undefined ? RELOAD_DEFAULTS.jitterMs : parseDuration(d.args[1], d);
  if (jitterMs < MIN_JITTER_MS) throw configError(d, `reload: jitter ${d.args[1]} is shorter than the minimum 1s`);
  if (jitterMs > intervalMs / 2) jitterMs = intervalMs / 2;
  return { intervalMs, jitterMs };
}

/** This instance's check interval: INTERVAL plus a random offset in [-JITTER/2, JITTER/2). */
export function jittered(o: ReloadOptions, random = Math.random): number {
  return Math.round(o.intervalMs + (random() - 0.5) * o.jitterMs);
}

export const reloadPlugin: PluginDefinition = {
  name: 'reload',
  setup: (d, ctx) => new ReloadPlugin(jittered(parseReload(d)), ctx.services),
};
