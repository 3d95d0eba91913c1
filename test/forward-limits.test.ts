// A silent upstream under load, without max_concurrent: every query in flight
// holds sockets, so without a default bound the process runs out of file
// descriptors (EMFILE) and /health and new TCP clients fail with it. The
// server runs as a child process under a low descriptor limit (ulimit -n).

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultMaxConcurrent, fileDescriptorLimit } from '../src/plugins/forward/limit.js';
import { queryBytes, tcpRaw } from './support/dns.js';
import { sleep, waitFor } from './support/forward.js';
import { statusOf } from './support/ops.js';
import { freePort } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

describe('forward: a default bound on queries in flight', function () {
  this.timeout(60_000);

  it('is kubeadm\'s 1000, or an eighth of the descriptor limit when that is lower', () => {
    expect(defaultMaxConcurrent(1 << 20)).to.equal(1000);
    expect(defaultMaxConcurrent(20_000)).to.equal(1000);
    expect(defaultMaxConcurrent(1024)).to.equal(128);
    expect(defaultMaxConcurrent(256)).to.equal(32);
    expect(defaultMaxConcurrent(40)).to.equal(16);
    expect(fileDescriptorLimit()).to.be.greaterThan(0);
  });

  describe('a flood of queries at a silent upstream, 256 descriptors', () => {
    let dir: string;
    let up: Upstream;
    let child: ChildProcess | null = null;
    let out = '';

    before(() => { dir = mkdtempSync(join(tmpdir(), 'clusterdns-fd-')); });
    after(async () => {
      if (child && child.exitCode === null) {
        const gone = new Promise((r) => child!.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      await up?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('keeps descriptors for /health and TCP clients, answers the excess REFUSED, and logs one line per cause', async () => {
      up = await startUpstream({ silent: true });
      const port = await freePort();
      const health = await freePort();
      const conf = join(dir, 'Corefile');
      // read_timeout at its maximum: the whole flood arrives while the first 32 still wait, even on a loaded machine.
      writeFileSync(conf, `.:${port} {\n    bind 127.0.0.1\n    errors\n    health 127.0.0.1:${health}\n    forward . ${up.hostPort} {\n        read_timeout 4.5s\n    }\n}\n`);
      // `ulimit -n` in the shell, then exec: the server itself runs under the limit.
      child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" --import tsx src/cli.ts --conf "${conf}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
      expect(await waitFor(() => out.includes('[INFO] serving'), 30_000), out).to.equal(true);

      // 600 queries at once, each for its own name (no cache here anyway).
      const sock = dgram.createSocket('udp4');
      const rcodes = new Map<number, number>();
      sock.on('message', (m) => rcodes.set(m[3]! & 0xf, (rcodes.get(m[3]! & 0xf) ?? 0) + 1));
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      try {
        const floodStart = Date.now();
        for (let i = 0; i < 600; i++) {
          sock.send(queryBytes(`q${i}.flood.example`, 'A'), port, '127.0.0.1');
          if (i % 10 === 9) await sleep(5);
        }
        await sleep(300);
        // While the flood waits on the silent upstream: the process still has descriptors to spare.
        expect(await statusOf(health, '/health'), '/health during the flood').to.equal(200);
        const [t] = await tcpRaw(port, [queryBytes('tcp.flood.example', 'A')], 1, 5000);
        expect(t!.length, 'a TCP answer during the flood').to.be.greaterThan(11);
        expect(t![3]! & 0xf, 'REFUSED: the bound is full').to.equal(5);
        const floodMs = Date.now() - floodStart;
        expect(floodMs, 'the flood and the checks fit in read_timeout').to.be.lessThan(4500);
        // The excess is answered at once (REFUSED), the 32 in flight SERVFAIL after read_timeout.
        // (A loaded machine may drop some datagrams: wait until answers stop coming.)
        let seen = -1;
        for (let quiet = 0; quiet < 3; await sleep(1000)) {
          const n = [...rcodes.values()].reduce((a, b) => a + b, 0);
          quiet = n === seen ? quiet + 1 : 0;
          seen = n;
        }
      } finally {
        sock.close();
      }
      const got = JSON.stringify([...rcodes]);
      expect(rcodes.get(5) ?? 0, `REFUSED beyond the bound (32 under 256 descriptors): ${got}`).to.be.greaterThan(100);
      expect(rcodes.get(2) ?? 0, `at most 32 waited on the upstream: ${got}`).to.be.within(1, 32);
      expect(out, 'no EMFILE').to.not.match(/EMFILE|too many open files/i);
      const lines = out.split('\n').filter((l) => l.includes('[ERROR] plugin/errors:'));
      expect(lines.length, `error lines:\n${lines.slice(0, 5).join('\n')}`).to.be.lessThan(6);
      expect(lines.some((l) => l.includes('no answer from'))).to.equal(true);
      expect(lines.some((l) => l.includes('concurrent queries exceeded maximum 32'))).to.equal(true);
    });
  });
});
