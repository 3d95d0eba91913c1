import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryBytes, udpRaw } from './support/dns.js';
import { httpGet, queryLoop, sleep, statusOf, until } from './support/ops.js';
import { freePort } from './support/server.js';

function startCli(corefile: string): { child: ChildProcess; stderr: () => string } {
  const conf = join(mkdtempSync(join(tmpdir(), 'clusterdns-shutdown-')), 'Corefile');
  writeFileSync(conf, corefile);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--conf', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
  return { child, stderr: () => err };
}

describe('shutdown (SIGTERM) of the command line', function () {
  this.timeout(20_000);
  let child: ChildProcess | null = null;
  afterEach(() => { if (child && child.exitCode === null) child.kill('SIGKILL'); });

  it('with lameduck: /ready 503 at once, DNS served for the lameduck, then exit 0', async () => {
    const dns = await freePort();
    const hp = await freePort();
    const rp = await freePort();
    const cli = startCli(`a.example:${dns} {\n  bind 127.0.0.1\n  health 127.0.0.1:${hp} {\n    lameduck 1s\n  }\n  ready 127.0.0.1:${rp}\n  hosts /dev/null {\n    192.0.2.10 www.a.example\n  }\n}\n`);
    child = cli.child;
    expect(await until(() => cli.stderr().includes('[INFO] serving'), 10_000)).to.equal(true, cli.stderr());
    expect(await statusOf(rp, '/ready')).to.equal(200);
    const exit = new Promise<{ code: number | null; at: number }>((r) => child!.on('exit', (code) => r({ code, at: Date.now() })));
    const loop = queryLoop(dns, 'www.a.example');
    await sleep(100);
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await until(async () => (await statusOf(rp, '/ready')) === 503, 300)).to.equal(true, 'ready fails at once');
    expect((await httpGet(rp, '/ready')).body).to.equal('shutting down');
    expect(await statusOf(hp, '/health')).to.equal(200, 'health stays up during the lameduck');
    await sleep(800 - (Date.now() - t0));
    const during = await loop.stop();
    expect(during.failed, during.failed.slice(0, 3).join('; ')).to.deep.equal([]);
    expect(during.sent).to.be.above(20);
    const { code, at } = await exit;
    expect(code).to.equal(0);
    expect(at - t0).to.be.within(1000, 3500);
    expect(cli.stderr()).to.contain('Going into lameduck mode for ');
    expect(await udpRaw(dns, queryBytes('www.a.example', 'A'), 300)).to.equal(null);
    expect(await statusOf(hp, '/health')).to.equal(0);
  });

  it('without lameduck: exits 0 at once', async () => {
    const dns = await freePort();
    const cli = startCli(`a.example:${dns} {\n  bind 127.0.0.1\n  errors\n}\n`);
    child = cli.child;
    expect(await until(() => cli.stderr().includes('[INFO] serving'), 10_000)).to.equal(true, cli.stderr());
    const exit = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await exit).to.equal(0);
    expect(Date.now() - t0).to.be.below(1500);
  });
});
