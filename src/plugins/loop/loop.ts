import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { QTYPE, RCODE } from '../../dns/constants.js';
import { fqdn } from '../../dns/names.js';
import { failure, type Reply } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { Handler, ListenAddress, Plugin, Request } from '../../server/plugin.js';

export interface LoopHooks {
  /** Called once a loop is seen. Default: process.exit (as CoreDNS, which halts). */
  exit(code: number): void;
  /** How long one probe waits for its answer (ms). */
  probeTimeoutMs: number;
  /** Pause before re-sending a probe that got no answer (ms). */
  retryMs: number;
  /** Give up sending probes after this long (ms). */
  windowMs: number;
  /** After a probe was answered, keep counting this long, then switch off (ms). */
  graceMs: number;
}

export const DEFAULT_LOOP_HOOKS: LoopHooks = {
  exit: (code) => process.exit(code),
  probeTimeoutMs: 2000,
  retryMs: 2000,
  windowMs: 30_000,
  graceMs: 2000,
};

/**
 * A probe seen more than this many times is looping. CoreDNS waits for a
 * third pass; here forward answers a query that comes back to it SERVFAIL
 * on its second pass (per-query loop protection), so the third never
 * comes. A second pass is already proof: each probe name is sent once,
 * and only an upstream can hand it to the chain again.
 */
const LIMIT = 1;

function randomLabel(): string {
  return (randomBytes(8).readBigUInt64BE() >> 1n).toString();
}

/**
 * Detects forwarding loops: after the listeners open it sends
 * `<random>.<random>.<zone> HINFO` to its own server; if the chain sees that
 * name a second time, the query came back to us through an upstream, and
 * the process stops (a loop would otherwise eat memory and CPU until it
 * dies). Each probe has its own name, so re-sending an unanswered probe is
 * never mistaken for a loop. Switches itself off once a probe was answered.
 */
export class LoopPlugin implements Plugin {
  readonly name = 'loop';
  /** Probe names (lower-case) -> times the chain saw them. */
  readonly seen = new Map<string, number>();
  /** Set once a loop was detected. */
  detected = false;
  private off = false;
  private stopped = false;
  private timers = new Set<NodeJS.Timeout>();
  private sockets = new Set<dgram.Socket>();

  constructor(readonly zone: string, private readonly hooks: LoopHooks = DEFAULT_LOOP_HOOKS) {}

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    if (req.type !== QTYPE.HINFO || this.off) return next(req);
    const n = this.seen.get(req.lname);
    if (n === undefined) return next(req);
    if (this.detected) {
      // Already reported: stop passing the probe around (the process may be kept alive by a test hook).
      return failure(RCODE.SERVFAIL, 'loop');
    }
    this.seen.set(req.lname, n + 1);
    if (n + 1 > LIMIT) {
      this.detected = true;
      log('error', 'loop', `Loop detected for zone ${JSON.stringify(fqdn(this.zone))}: our probe "HINFO ${fqdn(req.name)}" came back (seen ${n + 1} times). ` +
        'A forward upstream sends queries back to this server; typically /etc/resolv.conf names a local stub resolver ' +
        '(127.0.0.53, 127.0.0.1) that forwards to us. Point forward at a real upstream (e.g. the node\'s real resolv.conf). ' +
        'See https://coredns.io/plugins/loop#troubleshooting', { from: `${req.remoteAddress}:${req.remotePort}`, to: req.server });
      this.hooks.exit(1);
      return failure(RCODE.SERVFAIL, 'loop', new Error('forwarding loop detected'));
    }
    return next(req);
  }

  afterListen(addresses: ListenAddress[]): void {
    const a = addresses.find((x) => x.proto === 'udp');
    if (!a) return;
    const wildcard = a.address === '::' || a.address === '0.0.0.0' || a.address === '';
    void this.probe(wildcard ? '127.0.0.1' : a.address, a.port);
  }

  private async probe(host: string, port: number): Promise<void> {
    const end = Date.now() + this.hooks.windowMs;
    while (!this.stopped && !this.off && Date.now() < end) {
      const name = `${randomLabel()}.${randomLabel()}${this.zone ? `.${this.zone}` : ''}`;
      this.seen.set(name.toLowerCase(), 0);
      const answered = await this.send(host, port, name);
      if (this.stopped || this.detected) return;
      if (answered) break;
      await this.sleep(this.hooks.retryMs);
    }
    // The loop, if any, shows within moments of the probe: then stop looking.
    await this.sleep(this.hooks.graceMs);
    if (!this.detected) {
      this.off = true;
      this.seen.clear();
    }
  }

  private send(host: string, port: number, name: string): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      this.sockets.add(sock);
      const id = randomBytes(2).readUInt16BE();
      const done = (ok: boolean): void => {
        clearTimeout(t);
        this.timers.delete(t);
        if (this.sockets.delete(sock)) sock.close();
        resolve(ok);
      };
      const t = setTimeout(() => done(false), this.hooks.probeTimeoutMs);
      t.unref();
      this.timers.add(t);
      sock.on('error', () => done(false));
      sock.on('message', (m) => { if (m.length >= 2 && m.readUInt16BE(0) === id) done(true); });
      sock.unref();
      const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'HINFO', name: name || '.', class: 'IN' }] });
      sock.send(q, port, host, (err) => { if (err) done(false); });
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.timers.delete(t); resolve(); }, ms);
      t.unref();
      this.timers.add(t);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.close();
    this.sockets.clear();
  }
}
