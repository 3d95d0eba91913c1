import type { Directive } from '../../corefile/ast.js';
import { expectArgs, parseHostPort } from '../../corefile/options.js';
import { walkOptions } from '../../corefile/walk.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { PrometheusPlugin } from './prometheus.js';

export interface PrometheusOptions {
  /** "" = every interface. */
  host: string;
  port: number;
}

export const PROMETHEUS_DEFAULT = { host: 'localhost', port: 9153 };

export function parsePrometheus(d: Directive): PrometheusOptions {
  expectArgs(d, 0, 1, 'prometheus [ADDRESS]');
  const unsupported = 'clusterdns does not implement it; prometheus takes no options';
  walkOptions(d, 'prometheus', {}, null, { unsupported: { tls: unsupported, runtime_metrics: unsupported } });
  return d.args[0] === undefined ? { ...PROMETHEUS_DEFAULT } : parseHostPort(d.args[0], PROMETHEUS_DEFAULT.port, d);
}

export const prometheusPlugin: PluginDefinition = {
  name: 'prometheus',
  setup: (d, ctx) => new PrometheusPlugin(parsePrometheus(d), ctx.services.metrics, ctx.services.http),
};
