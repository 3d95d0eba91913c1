// The HTTP side servers of `health`, `ready` and `prometheus`. One server
// per address, shared by every block (and every path) that names it, and
// kept open across reloads: the new configuration's plugins acquire it
// before the old ones release it, so the port never closes in between.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { log } from '../log.js';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

interface Endpoint {
  server: http.Server;
  listening: Promise<void>;
  /** path -> owners, newest last; the newest owner's route answers. */
  routes: Map<string, Array<{ owner: object; route: Route }>>;
}

export class HttpEndpoints {
  private readonly endpoints = new Map<string, Endpoint>();

  /**
   * Serves `path` on host:port for `owner` until release(). Host "" means
   * every interface. Rejects (and holds nothing) if the port can't be bound.
   */
  async serve(host: string, port: number, path: string, owner: object, route: Route): Promise<void> {
    const key = endpointKey(host, port);
    let ep = this.endpoints.get(key);
    if (!ep) {
      ep = this.open(host, port);
      this.endpoints.set(key, ep);
    }
    let owners = ep.routes.get(path);
    if (!owners) {
      owners = [];
      ep.routes.set(path, owners);
    }
    owners.push({ owner, route });
    try {
      await ep.listening;
    } catch (err) {
      await this.release(host, port, path, owner);
      throw err;
    }
  }

  /** Drops `owner`'s hold on `path`; the server closes when nothing is left on it. */
  async release(host: string, port: number, path: string, owner: object): Promise<void> {
    const key = endpointKey(host, port);
    const ep = this.endpoints.get(key);
    if (!ep) return;
    const owners = ep.routes.get(path);
    if (owners) {
      const i = owners.findIndex((o) => o.owner === owner);
      if (i >= 0) owners.splice(i, 1);
      if (owners.length === 0) ep.routes.delete(path);
    }
    if (ep.routes.size > 0) return;
    this.endpoints.delete(key);
    await new Promise<void>((resolve) => {
      if (!ep.server.listening) { resolve(); return; }
      ep.server.close(() => resolve());
      ep.server.closeAllConnections();
    });
  }

  /** The bound address of an endpoint (tests). */
  address(host: string, port: number): AddressInfo | null {
    const ep = this.endpoints.get(endpointKey(host, port));
    return (ep?.server.address() as AddressInfo | null) ?? null;
  }

  private open(host: string, port: number): Endpoint {
    const routes: Endpoint['routes'] = new Map();
    const server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      // The latest registration of a path wins.
      const owner = routes.get(path)?.at(-1);
      if (!owner) return reply(res, 404, 'not found\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return reply(res, 405, 'method not allowed\n');
      }
      Promise.resolve()
        .then(() => owner.route(req, res))
        .catch((err: unknown) => {
          log('error', 'http', 'handler failed', { path, err });
          if (!res.headersSent) reply(res, 500, 'internal error\n');
          else res.destroy();
        });
    });
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host === '' ? undefined : host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => log('error', 'http', 'server error', { address: `${host}:${port}`, err }));
        resolve();
      });
    });
    return { server, listening, routes };
  }
}

export function reply(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function endpointKey(host: string, port: number): string {
  return `${host}|${port}`;
}
