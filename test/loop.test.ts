import { expect } from 'chai';
import { createServer } from '../src/app.js';
import { CorefileError } from '../src/corefile/errors.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { LoopPlugin } from '../src/plugins/loop/loop.js';
import { createLoopDefinition } from '../src/plugins/loop/setup.js';
import type { PluginDefinition } from '../src/server/plugin.js';
import { capturePlugins, forwardRig, sleep, waitFor } from './support/forward.js';
import { freePort, startCorefile } from './support/server.js';
import { startUpstream } from './support/upstream.js';

/** The loop directive with a recording exit and short timers; the instances it built. */
function testLoop(probeTimeoutMs = 1000): { def: PluginDefinition; exits: number[]; instances: LoopPlugin[] } {
  const exits: number[] = [];
  const instances: LoopPlugin[] = [];
  const base = createLoopDefinition({ exit: (code) => exits.push(code), probeTimeoutMs, retryMs: 50, graceMs: 300, windowMs: 3000 });
  const def: PluginDefinition = {
    ...base,
    setup(d, ctx) {
      const p = base.setup(d, ctx) as LoopPlugin;
      instances.push(p);
      return p;
    },
  };
  return { def, exits, instances };
}

describe('loop: forwarding loop detection', () => {
  const { logs, servers, upstreams } = forwardRig({ clearLogs: true });

  it('detects a forward that sends to this server itself, logs the cause, and exits 1', async () => {
    const t = testLoop();
    const port = await freePort();
    const s = await startCorefile(`. {\n    loop\n    forward . 127.0.0.1:${port}\n}\n`, { forcePort: port, plugins: capturePlugins({ replace: [t.def] }).plugins });
    servers.push(s);
    expect(await waitFor(() => t.exits.length > 0, 2000)).to.equal(true);
    expect(t.exits).to.deep.equal([1]);
    const line = logs.find((l) => l.includes('plugin/loop'));
    expect(line).to.match(/Loop detected for zone \\?"\.\\?"/);
    expect(line).to.match(/HINFO \d+\.\d+\./);
    expect(line).to.match(/resolv\.conf/);
    expect(t.instances[0]!.detected).to.equal(true);
    // Once detected, the probe stops circulating: the server stays usable.
    await sleep(100);
    expect(t.exits).to.have.length(1);
  });

  it('stays quiet with a real upstream: one probe, answered, then switched off', async () => {
    const t = testLoop();
    const up = await startUpstream();
    upstreams.push(up);
    const s = await startCorefile(`. {\n    loop\n    forward . ${up.hostPort}\n}\n`, { plugins: capturePlugins({ replace: [t.def] }).plugins });
    servers.push(s);
    expect(await waitFor(() => up.count() > 0, 1000)).to.equal(true);
    const probes = up.queries.filter((q) => q.type === 'HINFO');
    expect(probes).to.have.length(1);
    expect(probes[0]!.name).to.match(/^\d+\.\d+$/);
    await sleep(400);
    expect(t.exits).to.deep.equal([]);
    expect(t.instances[0]!.seen.size).to.equal(0, 'off after the grace period');
  });

  it('probes the block\'s zone, and re-sends an unanswered probe under a new name (no false alarm)', async () => {
    // Probes time out (100 ms) before forward gives up (500 ms): each is re-sent,
    // so the chain sees more than two probes, but never one name more than twice.
    const t = testLoop(100);
    const up = await startUpstream({ silent: true });
    upstreams.push(up);
    const s = await startCorefile(`example.org {\n    loop\n    forward . ${up.hostPort} {\n        read_timeout 500ms\n        max_fails 0\n    }\n}\n`, { plugins: capturePlugins({ replace: [t.def] }).plugins });
    servers.push(s);
    await sleep(600);
    const probes = up.queries.filter((q) => q.type === 'HINFO');
    for (const p of probes) expect(p.name).to.match(/^\d+\.\d+\.example\.org$/);
    expect(new Set(probes.map((p) => p.name)).size).to.be.at.least(3);
    expect(t.exits).to.deep.equal([]);
  });

  it('takes no arguments and no block', () => {
    for (const text of ['. {\n  loop now\n}\n', '. {\n  loop {\n  }\n}\n']) {
      let err: unknown;
      try { createServer(parseCorefile(text, { file: 'Corefile' }), { defaultPort: 0 }); } catch (e) { err = e; }
      expect(err).to.be.instanceOf(CorefileError);
      expect((err as CorefileError).line).to.equal(2);
    }
  });
});
