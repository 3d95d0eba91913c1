import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, reloaderFor } from '../src/app.js';
import { loadCorefile } from '../src/corefile/parse.js';
import { CorefileError } from '../src/corefile/errors.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import { queryBytes, rcodeOf, rrLines, tcpRaw } from './support/dns.js';
import { freePort, startCorefile, type Running } from './support/server.js';
import { dotQuery, makeCerts, type Certs } from './support/tls.js';

describe('tls plugin: DNS over TLS listeners (tls://)', function () {
  this.timeout(20_000);
  let certs: Certs;
  const servers: Running[] = [];
  const logs: string[] = [];
  before(() => { certs = makeCerts(); setLogSink((l) => logs.push(l)); });
  after(() => { certs.remove(); setLogSink(null); });
  afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.stop())); logs.length = 0; });

  const serve = async (tlsLine: string, extra = ''): Promise<Running> => {
    const s = await startCorefile(`tls://example.org {\n  ${tlsLine}\n${extra}  hosts {\n    192.0.2.7 www.example.org\n  }\n}\n`);
    servers.push(s);
    return s;
  };

  it('answers pipelined queries over one TLS connection', async () => {
    const s = await serve(`tls ${certs.cert} ${certs.key}`);
    const answers = await dotQuery(s.port, [['www.example.org', 'A'], ['www.example.org', 'A'], ['www.example.org', 'AAAA']], { ca: certs.ca, servername: 'example.org' });
    expect(answers).to.have.length(3);
    const lines = answers.map((a) => `${rcodeOf(a)} ${rrLines(a.answers).join(',')}`).sort();
    expect(lines).to.deep.equal(['NOERROR ', 'NOERROR www.example.org A 192.0.2.7', 'NOERROR www.example.org A 192.0.2.7']);
  });

  it('labels the listener tls:// and opens no UDP socket', async () => {
    const s = await serve(`tls ${certs.cert} ${certs.key}`);
    expect(s.server.addresses().map((a) => a.proto)).to.deep.equal(['tcp']);
    expect(logs.some((l) => /listening/.test(l) && /tls/.test(l))).to.equal(true);
  });

  it('refuses plain TCP (the handshake fails) and keeps serving TLS', async () => {
    const s = await serve(`tls ${certs.cert} ${certs.key}`);
    let err: unknown = null;
    try { await tcpRaw(s.port, [queryBytes('www.example.org', 'A')], 1, 1500); } catch (e) { err = e; }
    expect(err, 'a plain DNS query gets no answer').to.be.instanceOf(Error);
    const [a] = await dotQuery(s.port, [['www.example.org', 'A']], { ca: certs.ca, servername: 'example.org' });
    expect(a && rcodeOf(a)).to.equal('NOERROR');
  });

  it('client_auth require_and_verify: only clients with a certificate from CA', async () => {
    const s = await serve(`tls ${certs.cert} ${certs.key} ${certs.ca} {\n    client_auth require_and_verify\n  }`);
    const q: Array<[string, string]> = [['www.example.org', 'A']];
    const [ok] = await dotQuery(s.port, q, { ca: certs.ca, servername: 'example.org', cert: certs.clientCert, key: certs.clientKey });
    expect(ok && rcodeOf(ok)).to.equal('NOERROR');
    for (const who of [{}, { cert: certs.strangerCert, key: certs.strangerKey }]) {
      let err: unknown = null;
      try { await dotQuery(s.port, q, { ca: certs.ca, servername: 'example.org', ...who }, 2000); } catch (e) { err = e; }
      expect(err, JSON.stringify(who)).to.be.instanceOf(Error);
    }
  });

  it('client_auth verify_if_given: no certificate is fine, an unverified one is not', async () => {
    const s = await serve(`tls ${certs.cert} ${certs.key} ${certs.ca} {\n    client_auth verify_if_given\n  }`);
    const q: Array<[string, string]> = [['www.example.org', 'A']];
    const [ok] = await dotQuery(s.port, q, { ca: certs.ca, servername: 'example.org' });
    expect(ok && rcodeOf(ok)).to.equal('NOERROR');
    let err: unknown = null;
    try { await dotQuery(s.port, q, { ca: certs.ca, servername: 'example.org', cert: certs.strangerCert, key: certs.strangerKey }, 2000); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(Error);
  });

  it('client_auth require: any certificate, none refused', async () => {
    const s = await serve(`tls ${certs.cert} ${certs.key} {\n    client_auth require\n  }`);
    const q: Array<[string, string]> = [['www.example.org', 'A']];
    const [ok] = await dotQuery(s.port, q, { ca: certs.ca, servername: 'example.org', cert: certs.strangerCert, key: certs.strangerKey });
    expect(ok && rcodeOf(ok)).to.equal('NOERROR');
    let err: unknown = null;
    try { await dotQuery(s.port, q, { ca: certs.ca, servername: 'example.org' }, 2000); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(Error);
  });

  it('a reload keeps the listener and serves the new certificate', async () => {
    const other = makeCerts();
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-tls-reload-'));
    const port = await freePort();
    const conf = join(dir, 'Corefile');
    const text = (c: Certs) => `tls://example.org:${port} {\n  bind 127.0.0.1\n  tls ${c.cert} ${c.key}\n${'  hosts {\n    192.0.2.7 www.example.org\n  }\n'}}\n`;
    writeFileSync(conf, text(certs));
    const server = createServer(loadCorefile(conf), { conf });
    await server.start();
    try {
      const q: Array<[string, string]> = [['www.example.org', 'A']];
      expect((await dotQuery(port, q, { ca: certs.ca, servername: 'example.org' })).length).to.equal(1);
      writeFileSync(conf, text(other));
      expect(await reloaderFor(server)?.reload('test')).to.equal(true);
      expect((await dotQuery(port, q, { ca: other.ca, servername: 'example.org' })).length).to.equal(1);
      let err: unknown = null;
      try { await dotQuery(port, q, { ca: certs.ca, servername: 'example.org' }, 2000); } catch (e) { err = e; }
      expect(err, 'the old certificate is gone').to.be.instanceOf(Error);
    } finally {
      await server.stop(500);
      other.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('setup errors name FILE:LINE', () => {
    const fails = (text: string, reason: RegExp, line: number): void => {
      let err: unknown;
      try { createServer(parseCorefile(text, { file: 'Corefile' }), { defaultPort: 0 }); } catch (e) { err = e; }
      expect(err, text).to.be.instanceOf(CorefileError);
      expect((err as CorefileError).reason).to.match(reason);
      expect((err as CorefileError).line).to.equal(line);
    };

    it('a tls:// block without the tls plugin', () => {
      fails('.:1053 {\n  forward . 127.0.0.1\n}\n\ntls://.:8853 {\n  forward . 127.0.0.1\n}\n', /tls:\/\/ server block needs the tls plugin/, 5);
    });

    it('missing files, bad arities, unknown client_auth, a key that is not a key', () => {
      fails(`tls://. {\n  tls ${join(certs.dir, 'absent.pem')} ${certs.key}\n}\n`, /cannot read certificate file .*absent\.pem: ENOENT/, 2);
      fails(`tls://. {\n  tls ${certs.cert}\n}\n`, /tls CERT KEY \[CA\]/, 2);
      fails(`tls://. {\n  tls a b c d\n}\n`, /tls CERT KEY \[CA\]/, 2);
      fails(`tls://. {\n  tls ${certs.cert} ${certs.key} {\n    client_auth sometimes\n  }\n}\n`, /unknown client_auth "sometimes"; accepted: nocert, request, require, verify_if_given, require_and_verify/, 3);
      const bogus = join(certs.dir, 'bogus.key');
      writeFileSync(bogus, 'not a key\n');
      fails(`tls://. {\n  tls ${certs.cert} ${bogus}\n}\n`, /tls: unusable certificate, key or CA/, 2);
    });
  });
});
