// DNS over TLS test helpers: a throwaway CA and certificates made with the
// openssl CLI in a temp dir, and a DoT client (TCP framing over node:tls).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { queryBytes } from './dns.js';

export interface Certs {
  dir: string;
  ca: string;
  /** Server certificate for DNS:example.org and IP:127.0.0.1, signed by `ca`. */
  cert: string;
  key: string;
  /** A client certificate signed by `ca`. */
  clientCert: string;
  clientKey: string;
  /** A self-signed client certificate no CA vouches for. */
  strangerCert: string;
  strangerKey: string;
  remove(): void;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and certificates signed by it (EC P-256: quick to make). */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-tls-'));
  const p = (f: string) => join(dir, f);
  const key = (f: string) => openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p(f)]);
  key('ca.key');
  openssl(['req', '-x509', '-new', '-key', p('ca.key'), '-subj', '/CN=clusterdns test CA', '-days', '2', '-out', p('ca.pem')]);
  const signed = (name: string, cn: string, ext: string) => {
    key(`${name}.key`);
    openssl(['req', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${cn}`, '-out', p(`${name}.csr`)]);
    writeFileSync(p(`${name}.ext`), ext);
    openssl(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.pem`)]);
  };
  signed('server', 'example.org', 'subjectAltName=DNS:example.org,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  signed('client', 'client', 'extendedKeyUsage=clientAuth\n');
  key('stranger.key');
  openssl(['req', '-x509', '-new', '-key', p('stranger.key'), '-subj', '/CN=stranger', '-days', '2', '-out', p('stranger.pem')]);
  return {
    dir, ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key'),
    clientCert: p('client.pem'), clientKey: p('client.key'), strangerCert: p('stranger.pem'), strangerKey: p('stranger.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface DotOptions {
  ca: string;
  servername?: string;
  cert?: string;
  key?: string;
}

/**
 * Sends framed queries over one TLS connection to 127.0.0.1:port and
 * resolves with the decoded answers, in arrival order.
 */
export function dotQuery(port: number, names: Array<[string, string]>, opts: DotOptions, timeoutMs = 3000): Promise<DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      host: '127.0.0.1', port, ca: readFileSync(opts.ca),
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
      ...(opts.cert !== undefined && opts.key !== undefined ? { cert: readFileSync(opts.cert), key: readFileSync(opts.key) } : {}),
    });
    const out: DecodedPacket[] = [];
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`DoT: ${out.length}/${names.length} answers within ${timeoutMs}ms`)); }, timeoutMs);
    sock.on('secureConnect', () => {
      for (const [name, type] of names) {
        const q = queryBytes(name, type);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        sock.write(Buffer.concat([len, q]));
      }
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        out.push(dnsPacket.decode(buf.subarray(2, 2 + n)));
        buf = buf.subarray(2 + n);
      }
      if (out.length === names.length) { clearTimeout(t); sock.end(); resolve(out); }
    });
    sock.on('error', (err) => { clearTimeout(t); reject(err); });
    sock.on('close', () => { clearTimeout(t); if (out.length < names.length) reject(new Error('DoT connection closed')); });
  });
}
