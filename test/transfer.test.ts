import { expect } from 'chai';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCorefile } from '../src/corefile/parse.js';
import { buildBlocks } from '../src/server/build.js';
import { PLUGINS } from '../src/plugins/index.js';
import { queryBytes, rcodeOf, udpRaw } from './support/dns.js';
import { removeDir, start as startK8s, writeCluster } from './support/kubernetes-fixtures.js';
import { startCorefile, type Running } from './support/server.js';

const ZONE = `; relative names: served as example.org, closed.test and notransfer.test
$TTL 3600
@    IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
     IN NS ns1
ns1  IN A 192.0.2.53
www  IN A 192.0.2.1
     IN AAAA 2001:db8::1
mail IN MX 10 www
`;

/** A zone of `n` A records besides the SOA and NS. */
function bigZone(n: number): string {
  const lines = [`$ORIGIN big.test.`, `$TTL 60`, `@ IN SOA ns hostmaster 7 7200 3600 1209600 300`, `  IN NS ns`, `ns IN A 192.0.2.53`];
  for (let i = 0; i < n; i++) lines.push(`host-${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return lines.join('\n') + '\n';
}

/** A query with an SOA in its authority section: IXFR asking from `serial`. */
function ixfrBytes(zone: string, serial: number): Buffer {
  return dnsPacket.encode({
    type: 'query', id: 9, flags: 0,
    questions: [{ name: zone, type: 'IXFR', class: 'IN' }],
    authorities: [{ name: zone, type: 'SOA', ttl: 0, data: { mname: 'ns', rname: 'h', serial, refresh: 0, retry: 0, expire: 0, minimum: 0 } }],
  });
}

/**
 * Sends one query over TCP and reads messages until the transfer ends: the
 * second SOA, a single-SOA answer, or a message with an error rcode.
 */
function transferOver(port: number, query: Buffer, timeoutMs = 5000): Promise<DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const out: DecodedPacket[] = [];
    let soas = 0;
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`transfer unfinished after ${out.length} messages`)); }, timeoutMs);
    const done = (): void => { clearTimeout(t); sock.destroy(); resolve(out); };
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const p = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        out.push(p);
        soas += (p.answers ?? []).filter((a) => a.type === 'SOA').length;
        const n = (p.answers ?? []).length;
        const first = p.answers?.[0];
        const single = out.length === 1 && (first === undefined || first.type !== 'SOA' || (n === 1 && soas === 1));
        if (rcodeOf(p) !== 'NOERROR' || soas >= 2 || single) { done(); return; }
      }
    });
    sock.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

const answers = (msgs: DecodedPacket[]): DecodedPacket['answers'] => msgs.flatMap((m) => m.answers ?? []);
const line = (r: NonNullable<DecodedPacket['answers']>[number]): string => {
  const d = (r as { data: unknown }).data;
  if (r.type === 'SOA') return `${r.name} SOA ${(d as { serial: number }).serial}`;
  if (r.type === 'SRV') { const s = d as { weight: number; port: number; target: string }; return `${r.name} SRV ${s.weight} ${s.port} ${s.target}`; }
  if (r.type === 'MX') { const s = d as { preference: number; exchange: string }; return `${r.name} MX ${s.preference} ${s.exchange}`; }
  return `${r.name} ${r.type} ${String(d)}`;
};

const haveDig = spawnSync('sh', ['-c', 'command -v dig']).status === 0;

describe('transfer plugin (AXFR/IXFR over TCP)', function () {
  this.timeout(20000);
  let dir: string;
  let srv: Running;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-xfr-'));
    writeFileSync(join(dir, 'example.org.db'), ZONE);
    writeFileSync(join(dir, 'big.test.db'), bigZone(3000));
    srv = await startCorefile(`
example.org {
    log
    cache 30
    loadbalance
    file ${join(dir, 'example.org.db')}
    transfer {
        to 127.0.0.0/8
    }
}
big.test {
    file ${join(dir, 'big.test.db')}
    transfer {
        to 127.0.0.1:5300 192.0.2.9
    }
}
closed.test {
    file ${join(dir, 'example.org.db')} closed.test
    transfer {
        to 192.0.2.1 2001:db8::1
    }
}
notransfer.test {
    file ${join(dir, 'example.org.db')} notransfer.test
}
`);
  });
  after(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a file zone SOA first, in file order, and closes with the SOA (raw TCP; through log, cache, loadbalance)', async () => {
    const msgs = await transferOver(srv.port, queryBytes('example.org', 'AXFR', { id: 4242 }));
    expect(msgs.every((m) => m.id === 4242 && rcodeOf(m) === 'NOERROR')).to.equal(true);
    expect((msgs[0] as { flag_aa?: boolean } | undefined)?.flag_aa).to.equal(true);
    expect(answers(msgs)?.map(line)).to.deep.equal([
      'example.org SOA 2024010101',
      'example.org NS ns1.example.org',
      'ns1.example.org A 192.0.2.53',
      'www.example.org A 192.0.2.1',
      'www.example.org AAAA 2001:db8::1',
      'mail.example.org MX 10 www.example.org',
      'example.org SOA 2024010101',
    ]);
  });

  it('splits a zone of 3,000 records over several messages, each under 64 KiB, SOA first and last', async () => {
    const msgs = await transferOver(srv.port, queryBytes('big.test', 'AXFR'));
    const all = answers(msgs) ?? [];
    expect(msgs.length).to.be.greaterThan(1);
    expect(all).to.have.length(3000 + 4);
    expect(all[0]?.type).to.equal('SOA');
    expect(all[all.length - 1]?.type).to.equal('SOA');
    expect(all.filter((a) => a.type === 'SOA')).to.have.length(2);
    const hosts = new Set(all.filter((a) => a.type === 'A').map((a) => a.name));
    expect(hosts.size).to.equal(3001);
    for (const m of msgs) expect(dnsPacket.encode(m).length).to.be.lessThan(65536);
  });

  it('refuses a client not in `to`, and AXFR over UDP', async () => {
    const [refused] = await transferOver(srv.port, queryBytes('closed.test', 'AXFR'));
    expect(refused && rcodeOf(refused)).to.equal('REFUSED');
    const udp = await udpRaw(srv.port, queryBytes('example.org', 'AXFR'));
    if (udp === null) throw new Error('no UDP answer');
    expect(rcodeOf(dnsPacket.decode(udp))).to.equal('REFUSED');
  });

  it('without a transfer line the file zone refuses transfers; other types still pass through', async () => {
    const [refused] = await transferOver(srv.port, queryBytes('notransfer.test', 'AXFR'));
    expect(refused && rcodeOf(refused)).to.equal('REFUSED');
    const [a] = await transferOver(srv.port, queryBytes('www.example.org', 'A'));
    expect(a?.answers?.map(line)).to.deep.equal(['www.example.org A 192.0.2.1']);
  });

  it('answers IXFR from an older serial with the whole zone, from the current serial with the SOA alone', async () => {
    const full = await transferOver(srv.port, ixfrBytes('example.org', 2024010100));
    expect(answers(full)).to.have.length(7);
    const upToDate = await transferOver(srv.port, ixfrBytes('example.org', 2024010101));
    expect(upToDate).to.have.length(1);
    expect(answers(upToDate)?.map(line)).to.deep.equal(['example.org SOA 2024010101']);
    const [bad] = await transferOver(srv.port, queryBytes('example.org', 'IXFR'));
    expect(bad && rcodeOf(bad)).to.equal('SERVFAIL', 'IXFR needs the client SOA in authority');
    // Only an IXFR may carry an authority record: another query with one stays a FORMERR.
    const notIxfr = ixfrBytes('www.example.org', 1);
    notIxfr.writeUInt16BE(1, notIxfr.indexOf(Buffer.from([0x00, 0xfb, 0x00, 0x01])));
    const [formerr] = await transferOver(srv.port, notIxfr);
    expect(formerr && rcodeOf(formerr)).to.equal('FORMERR');
  });

  (haveDig ? it : it.skip)('dig AXFR gets the zone (BIND reads our multi-message transfer)', async function () {
    // Asynchronous: the server runs in this process.
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile('dig', ['+tcp', '+nocmd', '+noall', '+answer', '+stats', '-p', String(srv.port), '@127.0.0.1', 'big.test', 'AXFR'], { timeout: 10000 },
        (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })));
    });
    const records = r.stdout.split('\n').filter((l) => /\sIN\s/.test(l));
    expect(records).to.have.length(3004);
    expect(records[0]).to.match(/^big\.test\.\s+60\s+IN\s+SOA\s/);
    const msgs = /XFR size: (\d+) records \(messages (\d+)/.exec(r.stdout);
    expect(Number(msgs?.[2])).to.be.greaterThan(1);
  });

  it('rejects a `to` that is not an address, a missing `to`, and points the kubernetes option at the plugin', () => {
    const build = (text: string) => () => buildBlocks(parseCorefile(text, { file: 'Corefile' }), {
      plugins: PLUGINS, defaultPort: 53, resolve: () => { throw new Error('unused'); }, services: undefined as never,
    });
    expect(build('. {\n  transfer {\n    to example.com\n  }\n}\n')).to.throw(/Corefile:3.*must specify an IP address/);
    expect(build('. {\n  transfer\n}\n')).to.throw(/Corefile:2.*'to' is required/);
    expect(build('. {\n  transfer {\n    to 10.0.0.0/33\n  }\n}\n')).to.throw(/not a CIDR/);
    expect(build('cluster.local {\n  kubernetes {\n    transfer to *\n  }\n}\n')).to.throw(/transfer plugin/);
  });
});

describe('transfer plugin with the kubernetes plugin', function () {
  this.timeout(20000);
  let dir: string;
  let srv: Running;

  before(async () => {
    dir = writeCluster();
    srv = await startK8s(`
cluster.local in-addr.arpa {
    kubernetes cluster.local in-addr.arpa {
        manifests ${dir}
        ttl 30
    }
    transfer {
        to *
    }
}
`);
  });
  after(async () => {
    await srv?.stop();
    removeDir(dir);
  });

  it('transfers SOA, NS and glue, services (A, SRV), headless endpoints and ExternalName CNAMEs, SOA last', async () => {
    const msgs = await transferOver(srv.port, queryBytes('cluster.local', 'AXFR'));
    const lines = (answers(msgs) ?? []).map(line);
    expect(lines[0]).to.match(/^cluster\.local SOA \d+$/);
    expect(lines[1]).to.equal('cluster.local NS ns.dns.cluster.local');
    expect(lines[2]).to.match(/^ns\.dns\.cluster\.local A /);
    expect(lines[lines.length - 1]).to.equal(lines[0]);
    expect(lines).to.include.members([
      'kubernetes.default.svc.cluster.local A 10.96.0.1',
      'kubernetes.default.svc.cluster.local SRV 100 443 kubernetes.default.svc.cluster.local',
      '_https._tcp.kubernetes.default.svc.cluster.local SRV 100 443 kubernetes.default.svc.cluster.local',
      'web.demo.svc.cluster.local A 10.96.1.10',
      'db.demo.svc.cluster.local A 10.1.1.10',
      'db-0.db.demo.svc.cluster.local A 10.1.1.10',
      'db-1.db.demo.svc.cluster.local A 10.1.1.11',
      '_postgres._tcp.db.demo.svc.cluster.local SRV 50 5432 db-0.db.demo.svc.cluster.local',
      'ext.demo.svc.cluster.local CNAME www.example.test',
    ]);
    // A not-ready endpoint is not served, so not transferred.
    expect(lines.some((l) => l.startsWith('db-2.'))).to.equal(false);
    // Services come by name, as CoreDNS sorts them.
    const order = lines.filter((l) => / A 10\.96\./.test(l)).map((l) => l.split('.')[0]);
    expect(order).to.deep.equal([...order].sort());
  });

  it('passes a transfer of a reverse zone on (kubernetes is no source for it)', async () => {
    const msgs = await transferOver(srv.port, queryBytes('in-addr.arpa', 'AXFR'));
    expect(msgs).to.have.length(1);
    expect(msgs[0]?.answers ?? []).to.deep.equal([]);
  });
});
