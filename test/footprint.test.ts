// What the server loads: a Corefile with no API source (manifests only, the
// embedded demo) must answer without ever loading the Kubernetes client.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rcodeOf, udpQuery } from './support/dns.js';
import { until } from './support/ops.js';
import { freePort } from './support/server.js';

describe('footprint: modules the server loads', function () {
  this.timeout(60_000);

  it('manifests mode (the embedded demo) answers without loading @kubernetes/client-node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-imports-'));
    const port = await freePort();
    const conf = join(dir, 'Corefile');
    writeFileSync(conf, readFileSync('config/Corefile', 'utf8')
      .replace(/^\.:1053 \{/m, `.:${port} {`)
      .replace(/manifests cluster\//, `manifests ${resolve('config/cluster')}`));
    const record = join(dir, 'imports.txt');
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/support/imports/register.mjs', 'src/cli.ts', '--conf', conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLUSTERDNS_TEST_IMPORT_LOG: record },
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      expect(await until(() => out.includes('[INFO] serving') || child.exitCode !== null, 45_000)).to.equal(true, out);
      // Startup waits a bounded time for the manifests; on a loaded machine they may come later.
      const answered = await until(async () => {
        const a = await udpQuery(port, 'web.demo.svc.cluster.local', 'A');
        return rcodeOf(a) === 'NOERROR' && (a.answers?.length ?? 0) > 0;
      }, 30_000);
      expect(answered, out).to.equal(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(existsSync(record), 'the import hook recorded nothing').to.equal(true);
    const urls = readFileSync(record, 'utf8').split('\n').filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    // The recording works: the manifest source and its YAML parser were loaded.
    expect(urls.some((u) => u.endsWith('/src/plugins/kubernetes/manifests.ts'))).to.equal(true);
    expect(urls.some((u) => u.includes('/js-yaml/'))).to.equal(true);
    expect(urls.filter((u) => u.includes('@kubernetes/client-node') || u.endsWith('/src/plugins/kubernetes/client.ts'))).to.deep.equal([]);
  });
});
