import { expect } from 'chai';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, reloaderFor } from '../src/app.js';
import { loadCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import { parseReady } from '../src/plugins/ready/setup.js';
import { PLUGINS } from '../src/plugins/index.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { answerPlugin } from './support/answer-plugin.js';
import { rcodeOf, udpQuery } from './support/dns.js';
import { gatePlugin, gates, httpGet, sleep, statusOf, until } from './support/ops.js';
import { freePort, startCorefile } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin, gatePlugin];

describe('ready', function () {
  this.timeout(15_000);
  const logs: string[] = [];
  before(() => setLogSink((l) => logs.push(l)));
  after(() => setLogSink(null));
  beforeEach(() => gates.clear());

  it('parses ready [ADDRESS]', () => {
    const d = (t: string) => parseCorefile(`. {\n${t}\n}\n`, { file: 'r' }).blocks[0]!.directives[0]!;
    expect(parseReady(d('ready'))).to.deep.equal({ host: '', port: 8181 });
    expect(parseReady(d('ready localhost:8091'))).to.deep.equal({ host: 'localhost', port: 8091 });
    expect(() => parseReady(d('ready {\n x\n}'))).to.throw(/ready takes no block/);
    expect(() => parseReady(d('ready a b'))).to.throw(/wrong number of arguments/);
  });

  it('is 503 naming the plugins not ready, 200 once all were ready, and stays ready', async () => {
    const rp = await freePort();
    const r = await startCorefile(`example.org {\n  ready 127.0.0.1:${rp}\n  gate k8s\n  gate other\n  answer\n}\n`, { plugins });
    try {
      let res = await httpGet(rp, '/ready');
      expect(res.status).to.equal(503);
      expect(res.body).to.equal('gate-k8s, gate-other');
      gates.set('k8s', true);
      res = await httpGet(rp, '/ready');
      expect([res.status, res.body]).to.deep.equal([503, 'gate-other']);
      gates.set('other', true);
      res = await httpGet(rp, '/ready');
      expect([res.status, res.body]).to.deep.equal([200, 'OK']);
      // As in CoreDNS: once ready, a plugin is not asked again.
      gates.set('k8s', false);
      expect(await statusOf(rp, '/ready')).to.equal(200);
    } finally {
      await r.stop();
    }
  });

  it('counts only the blocks that enable ready on that address', async () => {
    const rp = await freePort();
    const r = await startCorefile(`a.example {\n  ready 127.0.0.1:${rp}\n  gate a\n  answer\n}\nb.example {\n  gate b\n  answer\n}\n`, { plugins });
    try {
      expect((await httpGet(rp, '/ready')).body).to.equal('gate-a');
      gates.set('a', true);
      expect(await statusOf(rp, '/ready')).to.equal(200);
    } finally {
      await r.stop();
    }
  });

  it('never flips during a reload: the swap waits for the new configuration to be ready', async () => {
    const rp = await freePort();
    const dns = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-ready-'));
    const conf = join(dir, 'Corefile');
    const corefile = (gate: string, zone: string) => `${zone}:${dns} {\n  bind 127.0.0.1\n  ready 127.0.0.1:${rp}\n  gate ${gate}\n  answer\n}\n`;
    writeFileSync(conf, corefile('one', 'old.example'));
    const server = createServer(loadCorefile(conf), { plugins, conf });
    const startP = server.start();
    await sleep(50);
    gates.set('one', true);
    await startP;
    expect(await statusOf(rp, '/ready')).to.equal(200);
    try {
      writeFileSync(conf, corefile('two', 'new.example'));
      const reload = reloaderFor(server)!.reload('test');
      // The new gate is not ready: the old configuration serves and /ready stays 200.
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        statuses.push(await statusOf(rp, '/ready'));
        expect(rcodeOf(await udpQuery(dns, 'www.old.example', 'A'))).to.equal('NOERROR');
        await sleep(10);
      }
      gates.set('two', true);
      expect(await reload).to.equal(true);
      statuses.push(await statusOf(rp, '/ready'));
      expect(statuses.every((s) => s === 200)).to.equal(true, statuses.join(','));
      expect(rcodeOf(await udpQuery(dns, 'www.new.example', 'A'))).to.equal('NOERROR');
      expect(rcodeOf(await udpQuery(dns, 'www.old.example', 'A'))).to.equal('REFUSED');
    } finally {
      await server.stop(500);
    }
  });

  it('a new configuration that does not become ready in time is refused; the old one serves on', async () => {
    const rp = await freePort();
    const dns = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-ready-'));
    const conf = join(dir, 'Corefile');
    const corefile = (gate: string, zone: string) => `${zone}:${dns} {\n  bind 127.0.0.1\n  ready 127.0.0.1:${rp}\n  gate ${gate}\n  answer\n}\n`;
    writeFileSync(conf, corefile('three', 'old.example'));
    gates.set('three', true);
    const server = createServer(loadCorefile(conf), { plugins, conf, reload: { readyTimeoutMs: 200 } });
    await server.start();
    try {
      writeFileSync(conf, corefile('never', 'new.example'));
      const before = logs.length;
      expect(await reloaderFor(server)!.reload('test')).to.equal(false);
      const line = logs.slice(before).find((l) => l.includes('reload failed'));
      expect(line).to.match(/not ready within 0.2s \(waiting for gate-never\)/);
      expect(await statusOf(rp, '/ready')).to.equal(200);
      expect(rcodeOf(await udpQuery(dns, 'www.old.example', 'A'))).to.equal('NOERROR');
      expect(rcodeOf(await udpQuery(dns, 'www.new.example', 'A'))).to.equal('REFUSED');
    } finally {
      await server.stop(500);
    }
  });

  it('is 503 as soon as shutdown begins', async () => {
    const rp = await freePort();
    const r = await startCorefile(`example.org {\n  ready 127.0.0.1:${rp}\n  health 127.0.0.1:${await freePort()} {\n    lameduck 300ms\n  }\n  answer\n}\n`, { plugins });
    expect(await statusOf(rp, '/ready')).to.equal(200);
    const done = r.server.shutdown(500);
    expect(await until(async () => (await statusOf(rp, '/ready')) === 503, 100)).to.equal(true);
    await done;
  });
});
