import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, parseDuration, parseHostPort, unknownOption } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { HealthPlugin } from './health.js';

export interface HealthOptions {
  /** "" = every interface. */
  host: string;
  port: number;
  /** How long DNS keeps serving after SIGTERM before listeners close. */
  lameduckMs: number;
}

export const HEALTH_DEFAULT_PORT = 8080;

export function parseHealth(d: Directive): HealthOptions {
  expectArgs(d, 0, 1, 'health [ADDRESS] { lameduck DURATION }');
  const { host, port } = d.args[0] === undefined ? { host: '', port: HEALTH_DEFAULT_PORT } : parseHostPort(d.args[0], HEALTH_DEFAULT_PORT, d);
  let lameduckMs = 0;
  let seen = false;
  for (const o of d.block ?? []) {
    if (o.name !== 'lameduck') throw unknownOption(o, 'health', ['lameduck']);
    if (seen) throw configError(o, 'health: lameduck given twice');
    seen = true;
    expectArgs(o, 1, 1, 'lameduck DURATION');
    lameduckMs = parseDuration(o.args[0]!, o);
    if (lameduckMs > 3_600_000) throw configError(o, `health: lameduck ${o.args[0]} is longer than 1h`);
  }
  return { host, port, lameduckMs };
}

export const healthPlugin: PluginDefinition = {
  name: 'health',
  setup: (d, ctx) => new HealthPlugin(parseHealth(d), ctx.services.http),
};
