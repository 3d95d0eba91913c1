import { reply, type HttpEndpoints } from '../../metrics/http.js';
import { log } from '../../log.js';
import type { Plugin } from '../../server/plugin.js';
import type { HealthOptions } from './setup.js';

/** GET /health -> 200 OK while the process runs; on shutdown, holds DNS open for the lameduck. */
export class HealthPlugin implements Plugin {
  readonly name = 'health';

  constructor(readonly opts: HealthOptions, private readonly http: HttpEndpoints) {}

  async start(): Promise<void> {
    const { host, port } = this.opts;
    try {
      await this.http.serve(host, port, '/health', this, (_req, res) => reply(res, 200, 'OK'));
    } catch (err) {
      throw new Error(`health: cannot listen on ${host || '*'}:${port}: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await this.http.release(this.opts.host, this.opts.port, '/health', this);
  }

  async shutdown(): Promise<void> {
    const ms = this.opts.lameduckMs;
    if (ms <= 0) return;
    log('info', 'health', `Going into lameduck mode for ${ms / 1000}s`);
    await new Promise((r) => setTimeout(r, ms));
  }
}
