import { expect } from 'chai';
import { setLogSink } from '../src/log.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { parseHealth } from '../src/plugins/health/setup.js';
import { PLUGINS } from '../src/plugins/index.js';
import { answerPlugin } from './support/answer-plugin.js';
import { rcodeOf, udpQuery, udpRaw, queryBytes } from './support/dns.js';
import { httpGet, statusOf } from './support/ops.js';
import { freePort, startCorefile } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin];

function directive(text: string) {
  return parseCorefile(`. {\n${text}\n}\n`, { file: 'h.Corefile' }).blocks[0]!.directives[0]!;
}

describe('health', function () {
  this.timeout(10_000);
  const logs: string[] = [];
  before(() => setLogSink((l) => logs.push(l)));
  after(() => setLogSink(null));

  it('parses CoreDNS syntax and refuses what it does not know', () => {
    expect(parseHealth(directive('health'))).to.deep.equal({ host: '', port: 8080, lameduckMs: 0 });
    expect(parseHealth(directive('health 127.0.0.1:9999 {\n lameduck 5s\n}'))).to.deep.equal({ host: '127.0.0.1', port: 9999, lameduckMs: 5000 });
    expect(parseHealth(directive('health :8081'))).to.include({ host: '', port: 8081 });
    expect(() => parseHealth(directive('health {\n lameduck\n}'))).to.throw(/h.Corefile:3: health: option "lameduck": wrong number of arguments/);
    expect(() => parseHealth(directive('health {\n lameduck soon\n}'))).to.throw(/invalid duration "soon"/);
    expect(() => parseHealth(directive('health {\n lame 5s\n}'))).to.throw(/health: unknown option "lame"; accepted: lameduck/);
    expect(() => parseHealth(directive('health a b'))).to.throw(/wrong number of arguments/);
    expect(() => parseHealth(directive('health 1.2.3.4:99999'))).to.throw(/invalid address/);
  });

  it('answers GET /health with 200 OK, HEAD without a body, 404 elsewhere, 405 for POST', async () => {
    const hp = await freePort();
    const r = await startCorefile(`example.org {\n  health 127.0.0.1:${hp}\n  answer\n}\n`, { plugins });
    try {
      const get = await httpGet(hp, '/health');
      expect(get.status).to.equal(200);
      expect(get.body).to.equal('OK');
      const head = await httpGet(hp, '/health', 'HEAD');
      expect(head.status).to.equal(200);
      expect(head.body).to.equal('');
      expect((await httpGet(hp, '/nope')).status).to.equal(404);
      expect((await httpGet(hp, '/health', 'POST')).status).to.equal(405);
    } finally {
      await r.stop();
    }
    expect(await statusOf(hp, '/health')).to.equal(0, 'the HTTP server closes with the server');
  });

  it('shares one HTTP server between blocks naming the same address, and with ready/prometheus', async () => {
    const hp = await freePort();
    const r = await startCorefile(`
a.example {
  health 127.0.0.1:${hp}
  ready 127.0.0.1:${hp}
  prometheus 127.0.0.1:${hp}
  answer
}
b.example {
  health 127.0.0.1:${hp} {
    lameduck 1s
  }
  answer
}
`, { plugins });
    try {
      expect((await httpGet(hp, '/health')).body).to.equal('OK');
      expect((await httpGet(hp, '/ready')).status).to.equal(200);
      expect((await httpGet(hp, '/metrics')).body).to.contain('coredns_build_info');
    } finally {
      await r.stop();
    }
  });

  it('fails to start, naming the address, when the port is taken', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    const hp = await freePort();
    await new Promise<void>((res) => blocker.listen(hp, '127.0.0.1', res));
    try {
      let err: Error | null = null;
      try {
        const r = await startCorefile(`example.org {\n  health 127.0.0.1:${hp}\n  answer\n}\n`, { plugins });
        await r.stop();
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(new RegExp(`health: cannot listen on 127.0.0.1:${hp}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  it('lameduck: /ready fails at once, DNS keeps serving for DURATION, then listeners close', async () => {
    const hp = await freePort();
    const rp = await freePort();
    const r = await startCorefile(`example.org {\n  health 127.0.0.1:${hp} {\n    lameduck 600ms\n  }\n  ready 127.0.0.1:${rp}\n  answer\n}\n`, { plugins });
    expect(await statusOf(rp, '/ready')).to.equal(200);
    const t0 = Date.now();
    const done = r.server.shutdown(1000).then(() => Date.now() - t0);
    expect((await httpGet(rp, '/ready')).body).to.equal('shutting down');
    expect(await statusOf(rp, '/ready')).to.equal(503);
    expect(await statusOf(hp, '/health')).to.equal(200, 'still alive during lameduck');
    // DNS answers throughout the lameduck.
    while (Date.now() - t0 < 450) {
      expect(rcodeOf(await udpQuery(r.port, 'www.example.org', 'A'))).to.equal('NOERROR');
    }
    const took = await done;
    expect(took).to.be.within(580, 1500);
    expect(await udpRaw(r.port, queryBytes('www.example.org', 'A'), 300)).to.equal(null, 'listeners closed after the lameduck');
    expect(await statusOf(hp, '/health')).to.equal(0);
    expect(logs.some((l) => l.includes('Going into lameduck mode for '))).to.equal(true);
  });

  it('lets a query in flight finish when the listeners close', async () => {
    const r = await startCorefile(`example.org {\n  answer\n}\n`, { plugins });
    const slow = udpQuery(r.port, 'slow.example.org', 'A');
    await new Promise((res) => setTimeout(res, 10));
    await r.server.shutdown(2000);
    expect(rcodeOf(await slow)).to.equal('NOERROR');
  });
});
