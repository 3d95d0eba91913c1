import { reply } from '../../metrics/http.js';
import type { Services } from '../../services.js';
import type { Plugin } from '../../server/plugin.js';
import type { ReadyOptions } from './setup.js';

/**
 * GET /ready: 200 OK when every plugin that reports readiness, in the
 * blocks that enable `ready` on this address, has been ready once; else
 * 503 with their names. 503 from the first moment of a shutdown.
 */
export class ReadyPlugin implements Plugin {
  readonly name = 'ready';

  constructor(readonly opts: ReadyOptions, private readonly services: Services) {}

  async start(): Promise<void> {
    const { host, port } = this.opts;
    try {
      await this.services.http.serve(host, port, '/ready', this, (_req, res) => {
        const [status, body] = this.check();
        reply(res, status, body);
      });
    } catch (err) {
      throw new Error(`ready: cannot listen on ${host || '*'}:${port}: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await this.services.http.release(this.opts.host, this.opts.port, '/ready', this);
  }

  /**
   * Reads the configuration that is serving now, not the one this instance
   * came with: during a reload the old one answers until the swap, and the
   * server swaps only once the new one is ready, so readiness never flips.
   */
  check(): [number, string] {
    const server = this.services.server;
    if (!server) return [503, 'starting'];
    if (server.draining) return [503, 'shutting down'];
    const same = (p: Plugin): boolean => p instanceof ReadyPlugin && p.opts.host === this.opts.host && p.opts.port === this.opts.port;
    const blocks = server.currentBlocks().filter((b) => b.plugins.some(same));
    const waiting = server.notReady(blocks);
    return waiting.length === 0 ? [200, 'OK'] : [503, waiting.join(', ')];
  }
}
