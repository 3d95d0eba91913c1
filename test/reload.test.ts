import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer, reloaderFor } from '../src/app.js';
import { loadCorefile, parseCorefile } from '../src/corefile/parse.js';
import { RCODE } from '../src/dns/constants.js';
import { setLogSink } from '../src/log.js';
import { PLUGINS } from '../src/plugins/index.js';
import { jittered, parseReload } from '../src/plugins/reload/setup.js';
import { answerPlugin } from './support/answer-plugin.js';
import { queryBytes, rcodeOf, rrLines, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { gateEvents, gatePlugin, gates, queryLoop, sleep, statusOf, until } from './support/ops.js';
import { freePort } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin, gatePlugin];

function tmpConf(): string {
  return join(mkdtempSync(join(tmpdir(), 'clusterdns-reload-')), 'Corefile');
}

async function answers(port: number, name: string): Promise<string> {
  const a = await udpRaw(port, queryBytes(name, 'A'), 500);
  if (a === null) return 'timeout';
  return ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][a[3]! & 0xf] ?? 'other';
}

describe('reload', function () {
  this.timeout(20_000);
  const logs: string[] = [];
  before(() => setLogSink((l) => logs.push(l)));
  after(() => setLogSink(null));

  it("parses reload [INTERVAL] [JITTER] with CoreDNS's limits", () => {
    const d = (t: string) => parseCorefile(`. {\n${t}\n}\n`, { file: 'r' }).blocks[0]!.directives[0]!;
    expect(parseReload(d('reload'))).to.deep.equal({ intervalMs: 30_000, jitterMs: 15_000 });
    expect(parseReload(d('reload 10s'))).to.deep.equal({ intervalMs: 10_000, jitterMs: 5000 }, 'jitter capped at half the interval');
    expect(parseReload(d('reload 1m 20s'))).to.deep.equal({ intervalMs: 60_000, jitterMs: 20_000 });
    expect(() => parseReload(d('reload 1s'))).to.throw(/r:2: reload: interval 1s is shorter than the minimum 2s/);
    expect(() => parseReload(d('reload 10s 500ms'))).to.throw(/jitter 500ms is shorter than the minimum 1s/);
    expect(() => parseReload(d('reload 10s 2s 3s'))).to.throw(/wrong number of arguments/);
    expect(() => parseReload(d('reload soon'))).to.throw(/invalid duration "soon"/);
    expect(jittered({ intervalMs: 30_000, jitterMs: 15_000 }, () => 0)).to.equal(22_500);
    expect(jittered({ intervalMs: 30_000, jitterMs: 15_000 }, () => 0.999999)).to.be.closeTo(37_500, 1);
  });

  it('picks up a changed Corefile on its own, and keeps serving the old one when the new is broken, with no query lost', async () => {
    const p1 = await freePort();
    const p2 = await freePort();
    const conf = tmpConf();
    const a = `a.example:${p1} {\n  bind 127.0.0.1\n  reload 2s 1s\n  answer\n}\n`;
    writeFileSync(conf, a);
    const server = createServer(loadCorefile(conf), { plugins, conf });
    const sha = (text: string) => createHash('sha512').update(text).digest('hex');
    const running = () => logs.filter((l) => l.startsWith('[INFO] plugin/reload: Running configuration SHA512 = '));
    const first = logs.length;
    await server.start();
    // CoreDNS's line, which runbooks and alerts key on: the hash of the file as loaded.
    expect(running().slice(-1)).to.deep.equal([`[INFO] plugin/reload: Running configuration SHA512 = ${sha(a)}`]);
    expect(logs.length).to.be.above(first);
    const loop = queryLoop(p1, 'www.a.example');
    try {
      expect(await answers(p2, 'www.b.example')).to.equal('timeout');
      // Good: a second block on a new port; the first listener stays as it is.
      writeFileSync(conf, `${a}b.example:${p2} {\n  bind 127.0.0.1\n  answer\n}\n`);
      expect(await until(async () => (await answers(p2, 'www.b.example')) === 'NOERROR', 4000)).to.equal(true, 'new block served within INTERVAL+JITTER/2');
      expect(running().slice(-1)).to.deep.equal([`[INFO] plugin/reload: Running configuration SHA512 = ${sha(`${a}b.example:${p2} {\n  bind 127.0.0.1\n  answer\n}\n`)}`]);
      // Broken: refused, logged, the running configuration stays.
      const before = logs.length;
      writeFileSync(conf, `${a}b.example:${p2} {\n  bind 127.0.0.1\n  frobnicate\n}\n`);
      expect(await until(() => logs.slice(before).some((l) => l.includes('reload failed')), 4000)).to.equal(true);
      const line = logs.slice(before).find((l) => l.includes('reload failed'))!;
      expect(line).to.contain(`${conf}:8: unknown directive frobnicate`);
      expect(await answers(p2, 'www.b.example')).to.equal('NOERROR');
    } finally {
      const res = await loop.stop();
      await server.stop(500);
      expect(res.failed, res.failed.slice(0, 3).join('; ')).to.deep.equal([]);
      expect(res.sent).to.be.above(100);
    }
  });

  it('starts the new plugins before stopping the old, reuses kept listeners and closes dropped ones', async () => {
    const p1 = await freePort();
    const p2 = await freePort();
    const conf = tmpConf();
    gates.set('one', true);
    gates.set('two', true);
    writeFileSync(conf, `a.example:${p1} {\n  bind 127.0.0.1\n  gate one\n  answer\n}\nb.example:${p2} {\n  bind 127.0.0.1\n  answer\n}\n`);
    const server = createServer(loadCorefile(conf), { plugins, conf });
    await server.start();
    try {
      gateEvents.length = 0;
      const before = server.addresses();
      writeFileSync(conf, `a.example:${p1} {\n  bind 127.0.0.1\n  gate two\n  answer\n}\n`);
      expect(await reloaderFor(server)!.reload('test')).to.equal(true);
      expect(gateEvents).to.deep.equal(['start two', 'stop one']);
      const after = server.addresses();
      expect(after).to.deep.equal(before.filter((x) => x.port === p1));
      expect(await answers(p1, 'www.a.example')).to.equal('NOERROR');
      expect(await answers(p2, 'www.b.example')).to.equal('timeout');
      // Unchanged content is not reloaded; SIGUSR1 (force) is.
      expect(await reloaderFor(server)!.reload('tick')).to.equal(false);
      expect(await reloaderFor(server)!.reload('SIGUSR1', true)).to.equal(true);
    } finally {
      await server.stop(500);
    }
  });

  it('a new port that cannot be bound fails the reload; the old listeners and HTTP endpoints stay', async () => {
    const p1 = await freePort();
    const taken = await freePort();
    const hp = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', r));
    const conf = tmpConf();
    const a = `a.example:${p1} {\n  bind 127.0.0.1\n  health 127.0.0.1:${hp}\n  answer\n}\n`;
    writeFileSync(conf, a);
    const server = createServer(loadCorefile(conf), { plugins, conf });
    await server.start();
    try {
      writeFileSync(conf, `${a}b.example:${taken} {\n  bind 127.0.0.1\n  answer\n}\n`);
      const before = logs.length;
      expect(await reloaderFor(server)!.reload('test')).to.equal(false);
      expect(logs.slice(before).join('\n')).to.match(/reload failed.*EADDRINUSE/);
      expect(await answers(p1, 'www.a.example')).to.equal('NOERROR');
      expect(await statusOf(hp, '/health')).to.equal(200, 'unlike CoreDNS, a failed reload leaves health up');
    } finally {
      blocker.close();
      await server.stop(500);
    }
  });

  it('an empty or truncated Corefile fails the reload and the running configuration keeps every listener', async () => {
    const p1 = await freePort();
    const conf = tmpConf();
    const a = `a.example:${p1} {\n  bind 127.0.0.1\n  answer\n}\n`;
    writeFileSync(conf, a);
    const server = createServer(loadCorefile(conf), { plugins, conf });
    await server.start();
    try {
      const before = server.addresses();
      for (const text of ['', '# a ConfigMap write cut short\n']) {
        writeFileSync(conf, text);
        const at = logs.length;
        expect(await reloaderFor(server)!.reload('test')).to.equal(false);
        expect(await reloaderFor(server)!.reload('SIGUSR1', true)).to.equal(false);
        expect(logs.slice(at).join('\n')).to.match(/reload failed.*no server blocks/);
        expect(server.addresses()).to.deep.equal(before);
        expect(await answers(p1, 'www.a.example')).to.equal('NOERROR');
      }
    } finally {
      await server.stop(500);
    }
  });

  it('a change in an imported file reloads; an unchanged one does not', async () => {
    const p1 = await freePort();
    const conf = tmpConf();
    const extra = join(dirname(conf), 'names.conf');
    const names = (ip: string): string => `hosts /dev/null {\n  ${ip} www.a.example\n}\n`;
    writeFileSync(extra, names('192.0.2.10'));
    writeFileSync(conf, `a.example:${p1} {\n  bind 127.0.0.1\n  import names.conf\n}\n`);
    const server = createServer(loadCorefile(conf), { plugins, conf });
    await server.start();
    const address = async (): Promise<string> => rrLines((await udpQuery(p1, 'www.a.example', 'A')).answers).join(' ');
    try {
      expect(await address()).to.contain('192.0.2.10');
      expect(await reloaderFor(server)!.reload('tick')).to.equal(false, 'nothing changed');
      writeFileSync(extra, names('192.0.2.11'));
      expect(await reloaderFor(server)!.reload('tick')).to.equal(true, 'the imported file changed');
      expect(await address()).to.contain('192.0.2.11');
      expect(await reloaderFor(server)!.reload('tick')).to.equal(false);
    } finally {
      await server.stop(500);
    }
  });

  it('moves a port between a wildcard and a specific address and back; a failed move keeps the old listener', async () => {
    const p1 = await freePort();
    const taken = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', r));
    const conf = tmpConf();
    const at = (bind: string): string => `a.example:${p1} {\n  ${bind}\n  answer\n}\n`;
    writeFileSync(conf, at('bind 0.0.0.0'));
    const server = createServer(loadCorefile(conf), { plugins, conf });
    await server.start();
    const bound = (): string[] => [...new Set(server.addresses().map((a) => `${a.address}:${a.port}`))];
    try {
      for (const [bind, address] of [['bind 127.0.0.1', '127.0.0.1'], ['bind 0.0.0.0', '0.0.0.0'], ['bind 127.0.0.1', '127.0.0.1'], ['', '::']] as const) {
        writeFileSync(conf, at(bind));
        const before = logs.length;
        expect(await reloaderFor(server)!.reload('test'), logs.slice(before).join('\n')).to.equal(true);
        expect(bound()).to.deep.equal([`${address}:${p1}`]);
        expect(await answers(p1, 'www.a.example')).to.equal('NOERROR');
        expect(rcodeOf(await tcpQuery(p1, 'www.a.example', 'A'))).to.equal('NOERROR');
      }
      // The move cannot complete (another port is taken): the wildcard listener it closed is back.
      writeFileSync(conf, `${at('bind 127.0.0.1')}b.example:${taken} {\n  bind 127.0.0.1\n  answer\n}\n`);
      expect(await reloaderFor(server)!.reload('test')).to.equal(false);
      expect(bound()).to.deep.equal([`:::${p1}`]);
      expect(await answers(p1, 'www.a.example')).to.equal('NOERROR');
    } finally {
      blocker.close();
      await server.stop(500);
    }
  });

  describe('the command line, on SIGUSR1', () => {
    let child: ChildProcess | null = null;
    afterEach(() => { if (child && child.exitCode === null) child.kill('SIGKILL'); });

    it('reloads a good Corefile and keeps the old one for a bad one, with no query lost', async () => {
      const p1 = await freePort();
      const p2 = await freePort();
      const conf = tmpConf();
      const a = `a.example:${p1} {\n  bind 127.0.0.1\n  hosts /dev/null {\n    192.0.2.10 www.a.example\n  }\n}\n`;
      const b = `b.example:${p2} {\n  bind 127.0.0.1\n  hosts /dev/null {\n    192.0.2.20 www.b.example\n  }\n}\n`;
      writeFileSync(conf, a);
      child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--conf', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
      child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
      expect(await until(() => err.includes('[INFO] serving'), 10_000)).to.equal(true, err);
      const loop = queryLoop(p1, 'www.a.example', [RCODE.NOERROR]);
      try {
        writeFileSync(conf, a + b);
        child.kill('SIGUSR1');
        expect(await until(async () => (await answers(p2, 'www.b.example')) === 'NOERROR', 5000)).to.equal(true, err);
        expect(err).to.contain('[INFO] Reloading complete reason=SIGUSR1');
        writeFileSync(conf, `${a}b.example:${p2} {\n  bind 127.0.0.1\n  nonsense\n}\n`);
        child.kill('SIGUSR1');
        expect(await until(() => err.includes('reload failed'), 5000)).to.equal(true, err);
        await sleep(200);
        expect(err).to.contain(`${conf}:9: unknown directive nonsense`);
        expect(rcodeOf(await udpQuery(p2, 'www.b.example', 'A'))).to.equal('NOERROR');
      } finally {
        const res = await loop.stop();
        expect(res.failed, res.failed.slice(0, 3).join('; ')).to.deep.equal([]);
        expect(res.sent).to.be.above(20);
      }
      const exit = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit).to.equal(0);
    });
  });
});
