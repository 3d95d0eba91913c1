// What the rewrite plugin costs per query, in process (no sockets): the
// chain step plus the server's encode/relay step, for
//  - no rewrite plugin at all (the baseline);
//  - three name rules of which none matches (the price every other query pays);
//  - an exact name rule that matches, answer built by a plugin (sections);
//  - the same rule, answer relayed from an upstream (wire: decoded, names
//    put back and re-encoded).
//
//   node --import tsx bench/rewrite.ts [--seconds 2]
import dnsPacket from 'dns-packet';
import { performance } from 'node:perf_hooks';
import { RCODE, UDP_EDNS_CAP } from '../src/dns/constants.js';
import { encodeReply } from '../src/dns/encode.js';
import { isProblem, parseQuery } from '../src/dns/query.js';
import { relayWire } from '../src/dns/relay.js';
import { records, relay, type AnswerReply, type Reply, type RR } from '../src/dns/reply.js';
import { RewritePlugin } from '../src/plugins/rewrite/rewrite.js';
import { parseRule } from '../src/plugins/rewrite/setup.js';
import type { Handler, Request } from '../src/server/plugin.js';

const argv = process.argv.slice(2);
const SECONDS = Number(argv[argv.indexOf('--seconds') + 1] || 2);

const raw = dnsPacket.encode({
  type: 'query', id: 1234, flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ name: 'foo.example.com', type: 'A', class: 'IN' }],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never],
});
const q = parseQuery(raw);
if (isProblem(q)) throw new Error(q.reason);
const req: Request = { ...q, raw, proto: 'udp', remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', zone: '', server: 'dns://:53', start: 0, internal: false };
const echo = { id: q.id, flags: q.flags, raw, questionEnd: q.questionEnd, lname: q.lname, edns: q.edns };
const limits = { maxSize: 1232, recursionAvailable: true, ednsSize: UDP_EDNS_CAP };

const record = (r: Request): RR => ({ name: r.lname, type: 'A', ttl: 30, data: '10.96.5.5' });
const sections: Handler = (r) => records(RCODE.NOERROR, 'kubernetes', true, [record(r)]);
const wire: Handler = (r) => {
  const w = encodeReply({ id: r.id, flags: r.flags, raw: r.raw, questionEnd: r.questionEnd, lname: r.lname, edns: null },
    records(RCODE.NOERROR, 'forward', false, [record(r)]), limits);
  return relay(RCODE.NOERROR, 'forward', false, w);
};

const resolve = (): Promise<AnswerReply> => Promise.reject(new Error('not in this bench'));
const plugin = (lines: string[]) => new RewritePlugin(lines.map((l) => parseRule(l.split(' '))), resolve);
const miss = plugin(['name bar.example.com bar.default.svc.cluster.local', 'name suffix .corp.example. .svc.cluster.local.', 'name regex ^api\\.(.*)$ {1}']);
const hit = plugin(['name foo.example.com foo.default.svc.cluster.local']);

function once(h: Handler): Buffer {
  const r = h(req) as Reply;
  if (r.kind === 'drop' || r.kind === 'transfer') throw new Error(`the bench chains never answer with a ${r.kind}`);
  return r.kind === 'relay' ? relayWire(echo, r, limits) : encodeReply(echo, r, limits);
}

function measure(label: string, h: Handler): number {
  const check = dnsPacket.decode(once(h));
  if (check.answers?.[0]?.name !== 'foo.example.com' || check.id !== 1234) throw new Error(`${label}: bad answer ${JSON.stringify(check.answers)}`);
  for (let i = 0; i < 20_000; i++) once(h);
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) once(h);
    n += 1000;
  }
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${label.padEnd(52)} ${us.toFixed(2).padStart(6)} µs/query`);
  return us;
}

for (let round = 0; round < 2; round++) {
  measure('no rewrite, sections', sections);
  measure('3 rules, none matches, sections', (r) => miss.serve(r, sections));
  measure('exact rule matches, sections restored', (r) => hit.serve(r, sections));
  measure('no rewrite, upstream wire', wire);
  measure('exact rule matches, upstream wire restored', (r) => hit.serve(r, wire));
}
