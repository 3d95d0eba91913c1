// A plugin declares its metric families on its definition and reports them
// from its instances; the generic collector exports them, carries counters
// over reloads and knows nothing of the plugin.

import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, reloaderFor } from '../src/app.js';
import { loadCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import { familiesOf, pluginSample } from '../src/metrics/plugins.js';
import { PLUGINS } from '../src/plugins/index.js';
import type { PluginDefinition } from '../src/server/plugin.js';
import { answerPlugin } from './support/answer-plugin.js';
import { udpQuery } from './support/dns.js';
import { httpGet } from './support/ops.js';
import { freePort } from './support/server.js';

/** `tally LABEL`: counts the queries it passes on, and reports a gauge of its label. */
const tallyPlugin: PluginDefinition = {
  name: 'tally',
  metrics: {
    test_tally_queries_total: { type: 'counter', help: 'Queries seen by tally.' },
    test_tally_info: { type: 'gauge', help: 'The label of the serving tally.' },
  },
  setup(d) {
    const label = d.args[0] ?? '';
    let queries = 0;
    return {
      name: 'tally',
      serve(req, next) { queries++; return next(req); },
      collectMetrics: (at) => [
        pluginSample('test_tally_queries_total', { zones: at.zones }, queries, true),
        pluginSample('test_tally_info', { label }, 1, false),
      ],
    };
  },
};

function lines(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('plugin metrics', function () {
  this.timeout(15000);
  before(() => setLogSink(() => {}));
  after(() => setLogSink(null));

  it('exports the families a plugin declares, carrying its counters over a reload', async () => {
    const dns = await freePort();
    const mp = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-plugin-metrics-'));
    const conf = join(dir, 'Corefile');
    const text = (label: string): string => `example.org:${dns} {\n  bind 127.0.0.1\n  prometheus 127.0.0.1:${mp}\n  tally ${label}\n  answer\n}\n`;
    writeFileSync(conf, text('one'));
    const server = createServer(loadCorefile(conf), { plugins: [...PLUGINS, tallyPlugin, answerPlugin], conf });
    await server.start();
    try {
      let body = (await httpGet(mp, '/metrics')).body;
      expect(body).to.include('# HELP test_tally_queries_total Queries seen by tally.');
      expect(body).to.include('# TYPE test_tally_queries_total counter');
      for (let i = 0; i < 3; i++) await udpQuery(dns, `q${i}.example.org`, 'A');
      body = (await httpGet(mp, '/metrics')).body;
      expect(lines(body, 'test_tally_queries_total')).to.deep.equal(['test_tally_queries_total{zones="example.org."} 3']);

      writeFileSync(conf, text('two'));
      expect(await reloaderFor(server)?.reload('test')).to.equal(true);
      await udpQuery(dns, 'q9.example.org', 'A');
      body = (await httpGet(mp, '/metrics')).body;
      expect(lines(body, 'test_tally_queries_total')).to.deep.equal(['test_tally_queries_total{zones="example.org."} 4'], 'the counter carries on');
      expect(lines(body, 'test_tally_info')).to.deep.equal(['test_tally_info{label="two"} 1'], 'the gauge is the new instance\'s only');
    } finally {
      await server.stop(500);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses one family name declared with two types', () => {
    const a: PluginDefinition = { name: 'a', metrics: { x_total: { type: 'counter', help: 'x' } }, setup: () => null };
    const b: PluginDefinition = { name: 'b', metrics: { x_total: { type: 'gauge', help: 'x' } }, setup: () => null };
    expect(() => familiesOf([a, b])).to.throw(/metric family x_total is declared twice with different types \(plugin b\)/);
    expect(Object.keys(familiesOf(PLUGINS))).to.include.members(['coredns_cache_hits_total', 'coredns_forward_requests_total', 'coredns_kubernetes_dns_programming_duration_seconds']);
  });
});
