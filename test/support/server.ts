import { createServer, type AppOptions } from '../../src/app.js';
import { parseCorefile } from '../../src/corefile/parse.js';
import type { DnsServer } from '../../src/server/server.js';

export interface Running {
  server: DnsServer;
  /** The port every block listens on (UDP and TCP, 127.0.0.1). */
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts a Corefile on 127.0.0.1 and a free port. Every block gets
 * `bind 127.0.0.1` unless it binds itself, so tests never listen on
 * other interfaces.
 */
export async function startCorefile(text: string, opts: AppOptions = {}): Promise<Running> {
  const corefile = parseCorefile(text, { file: 'test.Corefile' });
  for (const b of corefile.blocks) {
    if (!b.directives.some((d) => d.name === 'bind')) {
      b.directives.push({ name: 'bind', args: ['127.0.0.1'], block: null, file: b.file, line: b.line });
    }
  }
  const port = opts.forcePort ?? await freePort();
  const server = createServer(corefile, { ...opts, forcePort: port });
  await server.start();
  return { server, port, stop: () => server.stop(1000) };
}

/** A port free for both UDP and TCP on 127.0.0.1 at the moment of asking. */
export async function freePort(): Promise<number> {
  const dgram = await import('node:dgram');
  const net = await import('node:net');
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
    });
    const ok = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}
