import type http from 'node:http';
import { traceQuery } from '../../explain/chain.js';
import { parseType } from '../../explain/records.js';
import { formatReport } from '../../explain/report.js';
import { reply } from '../../metrics/http.js';
import type { Plugin } from '../../server/plugin.js';
import type { Services } from '../../services.js';
import type { ExplainOptions } from './setup.js';

/**
 * GET /explain?name=NAME[&type=TYPE][&json]: runs the question through the
 * configuration serving now (any block, as a client's query would be
 * routed) and answers with the report `clusterdns explain` prints.
 */
export class ExplainPlugin implements Plugin {
  readonly name = 'explain';

  constructor(readonly opts: ExplainOptions, private readonly services: Services) {}

  async start(): Promise<void> {
    const { host, port } = this.opts;
    try {
      await this.services.http.serve(host, port, '/explain', this, (req, res) => this.handle(req, res));
    } catch (err) {
      throw new Error(`explain: cannot listen on ${host}:${port}: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await this.services.http.release(this.opts.host, this.opts.port, '/explain', this);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const q = new URL(req.url ?? '/', 'http://explain').searchParams;
    const name = q.get('name');
    if (name === null || name === '') return reply(res, 400, 'explain: ?name=NAME is needed (&type=TYPE, &json optional)\n');
    const typeText = q.get('type') ?? 'A';
    const type = parseType(typeText);
    if (type === null) return reply(res, 400, `explain: "${typeText}" is not a record type\n`);
    const server = this.services.server;
    if (!server) return reply(res, 503, 'explain: the server is starting\n');
    const report = await traceQuery(server.currentBlocks(), name, type);
    const json = q.has('json') && !['0', 'false', 'no'].includes(q.get('json') ?? '');
    if (json) reply(res, 200, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
    else reply(res, 200, formatReport(report));
  }
}
