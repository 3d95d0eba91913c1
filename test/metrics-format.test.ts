// The text exposition format (0.0.4) as prom-client printed it, the
// registry's rules for a family name declared twice, and how --workers
// families combine: checked against hand-written text and numbers.

import { expect } from 'chai';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import { aggregateFamilies } from '../src/metrics/aggregate.js';
import { CONTENT_TYPE, FamilyRegistry, formatValue, renderFamilies, type FamilySnapshot } from '../src/metrics/exposition.js';
import { pluginSample } from '../src/metrics/plugins.js';
import type { Metrics } from '../src/metrics/registry.js';
import { histogramSamples, type Sample } from '../src/metrics/snapshot.js';
import { PLUGINS } from '../src/plugins/index.js';
import type { PluginDefinition } from '../src/server/plugin.js';
import { answerPlugin } from './support/answer-plugin.js';
import { udpQuery } from './support/dns.js';
import { httpGet } from './support/ops.js';
import { freePort } from './support/server.js';

describe('metrics text format', () => {
  it('prints HELP and TYPE, escapes help and label values, and spells histograms out', () => {
    const reg = new FamilyRegistry();
    reg.register({
      name: 'test_requests_total',
      help: 'Requests with "quotes", a back\\slash\nand a newline.',
      type: 'counter',
      aggregator: 'sum',
      read: (): Sample[] => [
        { labels: { zone: 'a.example.', quirk: 'say "hi"\\now\nthen' }, value: 3 },
        { labels: {}, value: 0 },
      ],
    });
    reg.register({ name: 'test_empty', help: 'Nothing yet.', type: 'gauge', aggregator: 'first', read: () => [] });
    reg.register({
      name: 'test_seconds',
      help: 'A histogram.',
      type: 'histogram',
      aggregator: 'sum',
      // Per-bucket counts 1, 0, 2 and one above the last bound.
      read: () => histogramSamples('test_seconds', { type: 'A' }, [0.00025, 0.5, 2], [1, 0, 2, 1], 3.75),
    });
    expect(renderFamilies(reg.collect())).to.equal([
      '# HELP test_requests_total Requests with "quotes", a back\\\\slash\\nand a newline.',
      '# TYPE test_requests_total counter',
      'test_requests_total{zone="a.example.",quirk="say \\"hi\\"\\\\now\\nthen"} 3',
      'test_requests_total 0',
      '',
      '# HELP test_empty Nothing yet.',
      '# TYPE test_empty gauge',
      '',
      '# HELP test_seconds A histogram.',
      '# TYPE test_seconds histogram',
      'test_seconds_bucket{type="A",le="0.00025"} 1',
      'test_seconds_bucket{type="A",le="0.5"} 1',
      'test_seconds_bucket{type="A",le="2"} 3',
      'test_seconds_bucket{type="A",le="+Inf"} 4',
      'test_seconds_sum{type="A"} 3.75',
      'test_seconds_count{type="A"} 4',
      '',
    ].join('\n'));
    expect(CONTENT_TYPE).to.equal('text/plain; version=0.0.4; charset=utf-8');
  });

  it('formats numbers as Prometheus reads them', () => {
    expect([0, 42, -3, 0.5, 1e-7, 1.5e21, 2 ** 53, Infinity, -Infinity, NaN].map(formatValue))
      .to.deep.equal(['0', '42', '-3', '0.5', '1e-7', '1.5e+21', '9007199254740992', '+Inf', '-Inf', 'NaN']);
  });

  it('keeps one family per name: the same declaration again is ignored, another type or help is refused', () => {
    const reg = new FamilyRegistry();
    const def = { name: 'x_total', help: 'x', type: 'counter' as const, aggregator: 'sum' as const, read: () => [{ labels: {}, value: 1 }] };
    reg.register(def);
    reg.register({ ...def, read: () => [{ labels: {}, value: 2 }] });
    expect(reg.collect().map((f) => f.samples[0]?.value)).to.deep.equal([1], 'the first registration stays');
    expect(() => reg.register({ ...def, type: 'gauge' })).to.throw(/metric family x_total is declared twice/);
    expect(() => reg.register({ ...def, help: 'other' })).to.throw(/metric family x_total is declared twice/);
  });
});

describe('metrics of several workers', () => {
  const fam = (name: string, aggregator: FamilySnapshot['aggregator'], values: number[], type: FamilySnapshot['type'] = 'gauge'): FamilySnapshot =>
    ({ name, help: name, type, aggregator, samples: values.map((value, i) => ({ labels: { n: String(i) }, value })) });

  it('combines each series by its family\'s aggregator and leaves out the omitted ones', () => {
    const w1 = [fam('c_total', 'sum', [1, 10], 'counter'), fam('g_first', 'first', [5]), fam('g_min', 'min', [4]), fam('g_max', 'max', [4]),
      fam('g_avg', 'average', [1]), fam('start', 'omit', [100])];
    const w2 = [fam('c_total', 'sum', [2], 'counter'), fam('g_first', 'first', [6]), fam('g_min', 'min', [3]), fam('g_max', 'max', [9]),
      fam('g_avg', 'average', [2]), fam('start', 'omit', [200]), fam('only_w2', 'sum', [7])];
    const out = aggregateFamilies([w1, w2]);
    const values = Object.fromEntries(out.map((f) => [f.name, f.samples.map((s) => s.value)]));
    expect(values).to.deep.equal({ c_total: [3, 10], g_first: [5], g_min: [3], g_max: [9], g_avg: [1.5], only_w2: [7] });
  });

  it('sums histogram buckets, sums and counts series by series', () => {
    const h = (counts: number[], sum: number): FamilySnapshot =>
      ({ name: 'h', help: 'h', type: 'histogram', aggregator: 'sum', samples: histogramSamples('h', {}, [1], counts, sum) });
    const [out] = aggregateFamilies([[h([1, 1], 2.5)], [h([2, 0], 0.5)]]);
    expect(out?.samples.map((s) => `${s.metricName}${s.labels.le ?? ''} ${s.value}`)).to.deep.equal(['h_bucket1 3', 'h_bucket+Inf 4', 'h_sum 3', 'h_count 4']);
  });
});

describe('Metrics.registerFamilies', () => {
  before(() => setLogSink(() => {}));
  after(() => setLogSink(null));

  it('exports a family registered after start (a plugin definition that loaded late)', async () => {
    const got: { metrics?: Metrics } = {};
    let seen = 0;
    // Declares nothing up front, as a lazily loaded definition's families arrive after start.
    const late: PluginDefinition = {
      name: 'late',
      setup(_d, ctx) {
        got.metrics = ctx.services.metrics;
        return {
          name: 'late',
          serve(req, next) { seen++; return next(req); },
          collectMetrics: () => [pluginSample('test_late_total', {}, seen, true)],
        };
      },
    };
    const dns = await freePort();
    const mp = await freePort();
    const text = `example.org:${dns} {\n  bind 127.0.0.1\n  prometheus 127.0.0.1:${mp}\n  late\n  answer\n}\n`;
    const server = createServer(parseCorefile(text, { file: 'Corefile' }), { plugins: [...PLUGINS, late, answerPlugin] });
    await server.start();
    try {
      await udpQuery(dns, 'a.example.org', 'A');
      expect((await httpGet(mp, '/metrics')).body).not.to.include('test_late_total', 'undeclared: not exported');
      const m = got.metrics;
      if (m === undefined) throw new Error('the plugin was not set up');
      const families = { test_late_total: { type: 'counter', help: 'Queries seen late.' } } as const;
      m.registerFamilies(families);
      m.registerFamilies(families);
      expect(() => m.registerFamilies({ test_late_total: { type: 'gauge', help: 'Queries seen late.' } })).to.throw(/declared twice/);
      expect(() => m.registerFamilies({ coredns_dns_requests_total: { type: 'counter', help: 'Another help.' } })).to.throw(/declared twice/);
      await udpQuery(dns, 'b.example.org', 'A');
      const body = (await httpGet(mp, '/metrics')).body;
      expect(body).to.include('# HELP test_late_total Queries seen late.\n# TYPE test_late_total counter\ntest_late_total 2\n');
      expect(body.match(/# TYPE test_late_total /g)).to.have.length(1);
    } finally {
      await server.stop(500);
    }
  });
});
