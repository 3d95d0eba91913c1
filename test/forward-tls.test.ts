import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import dnsPacket from 'dns-packet';
import { createServer } from '../src/app.js';
import { CorefileError } from '../src/corefile/errors.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { parseForward, parseTo } from '../src/plugins/forward/setup.js';
import type { Directive } from '../src/corefile/ast.js';
import { rcodeOf, rrLines, tcpQuery, udpQuery } from './support/dns.js';
import { capturePlugins, forwardRig, waitFor } from './support/forward.js';
import { freePort, startCorefile, type Running } from './support/server.js';
import { makeCerts, type Certs } from './support/tls.js';

const HOSTS = '  hosts {\n    192.0.2.7 www.example.org\n    fallthrough\n  }\n';

/** A DoT upstream of our own that counts handshakes and answers every A query with 192.0.2.9. */
async function countingUpstream(certs: Certs): Promise<{ port: number; handshakes: () => number; queries: () => number; stop(): Promise<void> }> {
  let handshakes = 0;
  let queries = 0;
  const conns = new Set<tls.TLSSocket>();
  const srv = tls.createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (sock) => {
    handshakes++;
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        queries++;
        const a = dnsPacket.encode({
          type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: q.questions,
          answers: (q.questions ?? []).filter((x) => x.type === 'A').map((x) => ({ name: x.name, type: 'A' as const, ttl: 30, data: '192.0.2.9' })),
        });
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        sock.write(Buffer.concat([len, a]));
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const addr = srv.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
  return {
    port, handshakes: () => handshakes, queries: () => queries,
    stop: () => new Promise<void>((r) => { srv.close(() => r()); for (const c of conns) c.destroy(); }),
  };
}

describe('forward: DNS over TLS upstreams (tls://)', function () {
  this.timeout(20_000);
  const { logs, servers } = forwardRig({ clearLogs: true });
  let certs: Certs;
  before(() => { certs = makeCerts(); });
  after(() => certs.remove());

  const start = async (text: string, opts: Parameters<typeof startCorefile>[1] = {}): Promise<Running> => {
    const s = await startCorefile(text, opts);
    servers.push(s);
    return s;
  };
  const dotServer = () => start(`tls://example.org {\n  tls ${certs.cert} ${certs.key}\n${HOSTS}}\n`);
  const forwarder = (port: number, options: string, extra = '', plugins = {}) =>
    start(`. {\n${extra}  forward . tls://127.0.0.1:${port} {\n${options}  }\n}\n`, plugins);

  it('a clusterdns forwards to another over TLS (tls_servername, our CA): answers arrive over UDP and TCP', async () => {
    const up = await dotServer();
    const fwd = await forwarder(up.port, `    tls ${certs.ca}\n    tls_servername example.org\n`);
    const r = await udpQuery(fwd.port, 'www.example.org', 'A');
    expect(rcodeOf(r)).to.equal('NOERROR');
    expect(rrLines(r.answers)).to.deep.equal(['www.example.org A 192.0.2.7']);
    const t = await tcpQuery(fwd.port, 'www.example.org', 'A');
    expect(rrLines(t.answers)).to.deep.equal(['www.example.org A 192.0.2.7']);
  });

  it('without tls_servername the certificate is checked against the IP (its SAN holds 127.0.0.1)', async () => {
    const up = await dotServer();
    const fwd = await forwarder(up.port, `    tls ${certs.ca}\n`);
    const r = await udpQuery(fwd.port, 'www.example.org', 'A');
    expect(rcodeOf(r)).to.equal('NOERROR');
  });

  it('reuses one TLS connection for many queries', async () => {
    const up = await countingUpstream(certs);
    try {
      const fwd = await forwarder(up.port, `    tls ${certs.ca}\n    tls_servername example.org\n`);
      for (let i = 0; i < 8; i++) {
        const r = await udpQuery(fwd.port, `q${i}.example.net`, 'A');
        expect(rrLines(r.answers)).to.deep.equal([`q${i}.example.net A 192.0.2.9`]);
      }
      expect(up.queries()).to.equal(8);
      expect(up.handshakes()).to.equal(1);
    } finally {
      await up.stop();
    }
  });

  it('a certificate that fails verification (wrong servername): SERVFAIL and one log line naming the problem', async () => {
    const up = await dotServer();
    const fwd = await forwarder(up.port, `    tls ${certs.ca}\n    tls_servername wrong.example\n    max_fails 0\n`);
    for (let i = 0; i < 3; i++) {
      const r = await udpQuery(fwd.port, 'www.example.org', 'A');
      expect(rcodeOf(r)).to.equal('SERVFAIL');
    }
    const lines = logs.filter((l) => l.includes('TLS handshake with upstream failed'));
    expect(lines, logs.join('\n')).to.have.length(1);
    expect(lines[0]).to.match(/wrong\.example/).and.to.match(/altnames/i);
    // The upstream itself is fine: a forwarder that checks the right name gets answers.
    const good = await forwarder(up.port, `    tls ${certs.ca}\n    tls_servername example.org\n`);
    expect(rcodeOf(await udpQuery(good.port, 'www.example.org', 'A'))).to.equal('NOERROR');
  });

  it('an upstream whose certificate no CA we trust (system roots) fails the same way', async () => {
    const up = await dotServer();
    const fwd = await forwarder(up.port, '    tls\n    tls_servername example.org\n    max_fails 0\n');
    expect(rcodeOf(await udpQuery(fwd.port, 'www.example.org', 'A'))).to.equal('SERVFAIL');
    expect(logs.some((l) => /TLS handshake with upstream failed/.test(l) && /certificate/i.test(l)), logs.join('\n')).to.equal(true);
  });

  it('health checks go over TLS: a plain-DNS server behind tls:// stays down', async () => {
    // It answers plain UDP and TCP: a health check over either would call it healthy.
    // Its TCP side takes the ClientHello for the start of a long message and waits (read timeout 3s).
    const plain = await start(`. {\n${HOSTS}}\n`);
    const captured = capturePlugins();
    const fwd = await forwarder(plain.port, `    tls ${certs.ca}\n    max_fails 1\n    health_check 100ms\n    read_timeout 1s\n`, '', { plugins: captured.plugins });
    expect(rcodeOf(await udpQuery(fwd.port, 'www.example.org', 'A'))).to.equal('SERVFAIL');
    const u = captured.forwards[0]?.routes[0]?.upstreams[0];
    expect(u).to.not.equal(undefined);
    expect(u?.down).to.equal(true);
    const checks = () => captured.forwards[0]?.metrics.upstreams.get(`127.0.0.1:${plain.port}`)?.healthcheckFailures ?? 0;
    // Probes over TLS keep failing (each waits for its 1s limit); over plain DNS the first would have answered.
    expect(await waitFor(() => checks() >= 2, 5000)).to.equal(true);
    expect(u?.down).to.equal(true);
    expect(logs.some((l) => l.includes('healthy again'))).to.equal(false);
  });

  it('health checks over TLS bring a TLS upstream back', async () => {
    const up = await dotServer();
    const captured = capturePlugins();
    await forwarder(up.port, `    tls ${certs.ca}\n    tls_servername example.org\n    max_fails 1\n    health_check 100ms\n`, '', { plugins: captured.plugins });
    const u = captured.forwards[0]?.routes[0]?.upstreams[0];
    if (u === undefined) throw new Error('no upstream');
    u.failure(); // as after a lost query: down, health checking starts
    expect(u.down).to.equal(true);
    expect(await waitFor(() => !u.down, 3000)).to.equal(true);
  });

  it('keeps loop protection over a TLS hop: B -> tls A -> B is caught', async () => {
    const captured = capturePlugins();
    const pb = await freePort();
    const a = await start(`tls://. {\n  tls ${certs.cert} ${certs.key}\n  forward . 127.0.0.1:${pb}\n}\n`, { plugins: captured.plugins });
    await start(`. {\n  forward . tls://127.0.0.1:${a.port} {\n    tls ${certs.ca}\n  }\n}\n`, { forcePort: pb, plugins: captured.plugins });
    const r = await udpQuery(pb, 'loop.example.net', 'A', { edns: 1232 });
    expect(rcodeOf(r)).to.equal('SERVFAIL');
    expect(await waitFor(() => logs.some((l) => l.includes('Forwarding loop')), 3000), logs.join('\n')).to.equal(true);
    const fb = captured.forwards[1];
    expect(fb?.metrics.upstreams.get(`127.0.0.1:${a.port}`)?.loops).to.equal(1);
  });

  describe('configuration', () => {
    const dir = (args: string[], block: Directive[] | null = null): Directive => ({ name: 'forward', args, block, file: 'Corefile', line: 3 });
    const opt = (name: string, ...args: string[]): Directive => ({ name, args, block: null, file: 'Corefile', line: 4 });
    const fails = (fn: () => unknown, reason: RegExp, line: number): void => {
      let err: unknown;
      try { fn(); } catch (e) { err = e; }
      expect(err).to.be.instanceOf(CorefileError);
      expect((err as CorefileError).reason).to.match(reason);
      expect((err as CorefileError).line).to.equal(line);
    };

    it('reads tls://IP[:PORT] (853 by default) and mixes with plain upstreams as CoreDNS does', () => {
      const at = { file: 'C', line: 1 };
      expect(parseTo('tls://10.0.0.1', at)).to.deep.equal([{ host: '10.0.0.1', port: 853, tls: true }]);
      expect(parseTo('tls://[2001:db8::1]:8853', at)).to.deep.equal([{ host: '2001:db8::1', port: 8853, tls: true }]);
      const o = parseForward(dir(['.', 'tls://10.0.0.1', '10.0.0.2']));
      expect(o.to).to.deep.equal([{ host: '10.0.0.1', port: 853, tls: true }, { host: '10.0.0.2', port: 53 }]);
    });

    it('tls takes nothing (system roots), CA, CERT KEY, or CERT KEY CA', () => {
      expect(parseForward(dir(['.', 'tls://10.0.0.1'], [opt('tls')])).transport.tls).to.deep.equal({});
      const ca = parseForward(dir(['.', 'tls://10.0.0.1'], [opt('tls', certs.ca), opt('tls_servername', 'dns.example')])).transport.tls;
      expect(ca?.servername).to.equal('dns.example');
      expect(Buffer.isBuffer(ca?.ca)).to.equal(true);
      const all = parseForward(dir(['.', 'tls://10.0.0.1'], [opt('tls', certs.clientCert, certs.clientKey, certs.ca)])).transport.tls;
      expect([Buffer.isBuffer(all?.cert), Buffer.isBuffer(all?.key), Buffer.isBuffer(all?.ca)]).to.deep.equal([true, true, true]);
      const two = parseForward(dir(['.', 'tls://10.0.0.1'], [opt('tls', certs.clientCert, certs.clientKey)])).transport.tls;
      expect(two?.ca).to.equal(undefined);
    });

    it('refuses bad arities, missing files and unusable keys at their line', () => {
      const f = (o: Directive) => () => parseForward(dir(['.', 'tls://10.0.0.1'], [o]));
      fails(f(opt('tls', 'a', 'b', 'c', 'd')), /usage: tls \[CERT KEY\] \[CA\]/, 4);
      fails(f(opt('tls_servername')), /usage: tls_servername NAME/, 4);
      fails(f(opt('tls', join(certs.dir, 'absent-ca.pem'))), /forward: cannot read CA file .*absent-ca\.pem: ENOENT/, 4);
      fails(f(opt('tls', certs.clientCert, certs.ca)), /forward: unusable certificate, key or CA/, 4);
      fails(() => parseTo('https://10.0.0.1', { file: 'C', line: 9 }), /https:\/\/ is not supported/, 9);
      fails(() => parseTo('tls://dns.example', { file: 'C', line: 9 }), /is not an IP address/, 9);
    });

    it('a whole Corefile with a tls:// forward builds', () => {
      const ok = parseCorefile(`. {\n  forward . tls://10.0.0.1 {\n    tls ${certs.ca}\n    tls_servername dns.example\n  }\n}\n`, { file: 'Corefile' });
      expect(() => createServer(ok, { defaultPort: 0 })).not.to.throw();
    });
  });
});
