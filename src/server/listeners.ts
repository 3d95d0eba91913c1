import dgram from 'node:dgram';
import net from 'node:net';
import { configError } from '../corefile/errors.js';
import { log } from '../log.js';
import type { Block } from './build.js';
import type { ListenAddress } from './plugin.js';
import { ZoneTable } from './route.js';
import { TcpConnection, TcpSlots, type TcpLimits } from './tcp-connection.js';
import { createTlsServer, refreshTlsServer, type ServerTls } from './tls-listener.js';

/** One (address, port): its sockets and the zone table routing its queries to blocks. */
export interface Listener {
  address: string;
  port: number;
  zones: ZoneTable;
  label: string;
  /** tls: DNS over TLS only (no UDP), with the certificates of `tls`. */
  transport: 'dns' | 'tls';
  tls: ServerTls | null;
  udp: dgram.Socket[];
  tcp: net.Server[];
}

/** Bytes to send back, several messages (a zone transfer, TCP only), or null for no answer (a dropped query). */
export type Sendable = Buffer | Buffer[] | null;

/** What the sockets hand their queries to, and the state they share with the server. */
export interface ListenerHooks {
  handle(l: Listener, raw: Buffer, proto: 'udp' | 'tcp', remoteAddress: string, remotePort: number, localAddress: string): Sendable | Promise<Sendable>;
  readonly tcpLimits: TcpLimits;
  /** Open TCP connections over every listener (shutdown closes them). */
  readonly tcpConnections: Set<TcpConnection>;
  /** The server stopped taking queries: new TCP connections are closed at once. */
  closing(): boolean;
}

/** Opens a listener's UDP and TCP sockets (a wildcard tries IPv6 and falls back to IPv4). */
export async function openListener(l: Listener, hooks: ListenerHooks): Promise<void> {
  const wildcard = l.address === '';
  if (l.transport === 'tls') {
    try {
      l.tcp.push(await openTcp(l, hooks, wildcard ? '::' : l.address, l.port));
    } catch (err) {
      if (!wildcard) throw err;
      l.tcp.push(await openTcp(l, hooks, '0.0.0.0', l.port));
    }
    const a = l.tcp[0]?.address();
    if (a !== null && typeof a === 'object') l.port = a.port;
    announce(l);
    return;
  }
  const udpAddr = wildcard ? '::' : l.address;
  let first: dgram.Socket;
  try {
    first = await openUdp(l, hooks, udpAddr, l.port);
  } catch (err) {
    if (!wildcard) throw err;
    // No IPv6 on this host: fall back to IPv4 only.
    first = await openUdp(l, hooks, '0.0.0.0', l.port);
  }
  l.udp.push(first);
  // The UDP socket picked the port when asked for 0: TCP takes the same one.
  const port = l.port === 0 ? first.address().port : l.port;
  l.port = port;
  const tcpAddr = wildcard ? '::' : l.address;
  try {
    l.tcp.push(await openTcp(l, hooks, tcpAddr, port));
  } catch (err) {
    if (!wildcard) throw err;
    l.tcp.push(await openTcp(l, hooks, '0.0.0.0', port));
  }
  announce(l);
}

function announce(l: Listener): void {
  l.label = `${l.transport}://${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`;
  log('info', 'server', 'listening', { transport: l.transport, address: l.address || '*', port: l.port, zones: l.zones.blocks().flatMap((b) => b.zones).map((z) => z || '.').join(',') });
}

function openUdp(l: Listener, hooks: ListenerHooks, address: string, port: number): Promise<dgram.Socket> {
  const type = address.includes(':') ? 'udp6' : 'udp4';
  const sock = dgram.createSocket({ type, ipv6Only: false, lookup: literalLookup });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, address, () => {
      sock.off('error', reject);
      sock.on('error', (err) => log('error', 'server', 'udp socket error', { err }));
      const local = sock.address().address;
      sock.on('message', (msg, rinfo) => onUdp(l, hooks, sock, local, msg, rinfo));
      resolve(sock);
    });
  });
}

function onUdp(l: Listener, hooks: ListenerHooks, sock: dgram.Socket, local: string, msg: Buffer, rinfo: dgram.RemoteInfo): void {
  const out = hooks.handle(l, msg, 'udp', rinfo.address, rinfo.port, local);
  if (out === null) return;
  if (out instanceof Promise) {
    out.then((b) => { if (b) sendUdp(sock, b, rinfo); }, () => undefined);
  } else {
    sendUdp(sock, out, rinfo);
  }
}

/**
 * An answer that resolves after stop() closed the socket (past the grace
 * period) has nowhere to go: dropping it is the defined outcome, while the
 * synchronous ERR_SOCKET_DGRAM_NOT_RUNNING would end the process.
 */
function sendUdp(sock: dgram.Socket, out: Buffer | Buffer[], rinfo: dgram.RemoteInfo): void {
  // Several messages come only for TCP (the query path refuses a transfer over UDP).
  const b = Array.isArray(out) ? out[0] : out;
  if (b === undefined) return;
  try {
    sock.send(b, rinfo.port, rinfo.address);
  } catch (err) {
    log('debug', 'server', 'udp answer dropped: socket closed', { err });
  }
}

function openTcp(l: Listener, hooks: ListenerHooks, address: string, port: number): Promise<net.Server> {
  // Not srv.maxConnections: that refuses newcomers, while TcpSlots can make room for them.
  const slots = new TcpSlots(hooks.tcpLimits);
  const tlsOf = l.tls;
  let srv: net.Server;
  if (l.transport === 'tls' && tlsOf !== null) {
    // A client gets the read timeout to finish its handshake, as it gets it for its first message.
    srv = createTlsServer(() => l.tls ?? tlsOf, hooks.tcpLimits.readTimeoutMs, (sock) => onTcp(l, hooks, slots, sock));
  } else {
    // Half-open: a client's FIN ends its queries, not the answers it is owed.
    srv = net.createServer({ noDelay: true, allowHalfOpen: true });
    srv.on('connection', (sock) => onTcp(l, hooks, slots, sock));
  }
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port, host: address, ipv6Only: false }, () => {
      srv.off('error', reject);
      srv.on('error', (err) => log('error', 'server', 'tcp listener error', { err }));
      resolve(srv);
    });
  });
}

function onTcp(l: Listener, hooks: ListenerHooks, slots: TcpSlots, sock: net.Socket): void {
  const remote = sock.remoteAddress ?? '';
  const rport = sock.remotePort ?? 0;
  const local = sock.localAddress ?? '';
  if (hooks.closing()) {
    sock.destroy();
    return;
  }
  if (!slots.admit(remote)) {
    log('debug', 'server', 'tcp connection refused: every connection is owed answers', { client: remote, connections: slots.size });
    sock.destroy();
    return;
  }
  const conn = new TcpConnection(sock, remote, (msg) => hooks.handle(l, msg, 'tcp', remote, rport, local), hooks.tcpLimits, (c) => {
    slots.remove(c);
    hooks.tcpConnections.delete(c);
  });
  slots.add(conn);
  hooks.tcpConnections.add(conn);
}

/** The addresses a listener's sockets are bound to (port 0 resolved to the kernel's pick). */
export function boundAddresses(l: Listener): ListenAddress[] {
  const out: ListenAddress[] = [];
  for (const u of l.udp) { const a = u.address(); out.push({ address: a.address, port: a.port, proto: 'udp' }); }
  for (const t of l.tcp) {
    const a = t.address();
    // A listening TCP server's address is an AddressInfo (a string only for pipes, which we never open).
    if (a !== null && typeof a === 'object') out.push({ address: a.address, port: a.port, proto: 'tcp' });
  }
  return out;
}

/** Listeners with the same key are the same sockets (a reload keeps them). */
export function listenerKey(l: Pick<Listener, 'transport' | 'address' | 'port'>): string {
  return `${l.transport}|${l.address}|${l.port}`;
}

/** A reload keeps a listener: it takes the new configuration's zones and certificates. */
export function adopt(cur: Listener, next: Listener): void {
  cur.zones = next.zones;
  if (next.tls !== null) {
    cur.tls = next.tls;
    for (const t of cur.tcp) refreshTlsServer(t, next.tls);
  }
}

/** Closes the sockets of listeners a reload dropped (or opened before it failed). */
export async function closeSockets(listeners: Listener[]): Promise<void> {
  const waits: Array<Promise<void>> = [];
  for (const l of listeners) {
    for (const u of l.udp) waits.push(new Promise((r) => u.close(() => r())));
    // The port stops accepting at once; close()'s callback would also wait for
    // open connections (they end on their idle timeout), so don't.
    for (const t of l.tcp) t.close();
    l.udp = [];
    l.tcp = [];
  }
  await Promise.all(waits);
}

/**
 * Answers go back to the address a query came from, always an IP literal:
 * handing it straight back skips dns.lookup and its nextTick per packet
 * (measured: a third of the send cost under load).
 */
function literalLookup(address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, address.includes(':') ? 6 : 4);
}

const WILDCARDS = new Set(['', '0.0.0.0', '::']);

/** Two listeners that cannot both hold their port: one of them binds every address. */
export function overlaps(a: Listener, b: Listener): boolean {
  return a.port === b.port && a.port !== 0 && (WILDCARDS.has(a.address) || WILDCARDS.has(b.address));
}

/** Blocks sharing (address, port) share listeners; each listener routes by zone. */
export function groupListeners(blocks: Block[]): Listener[] {
  const byKey = new Map<string, Listener>();
  for (const b of blocks) {
    const addrs = b.bind.length > 0 ? b.bind : [''];
    for (const key of b.keys) {
      for (const address of addrs) {
        const port = key.port ?? 53;
        const k = listenerKey({ transport: key.transport, address, port });
        let l = byKey.get(k);
        if (!l) {
          l = { address, port, zones: new ZoneTable(), label: `${key.transport}://:${port}`, transport: key.transport, tls: null, udp: [], tcp: [] };
          byKey.set(k, l);
        }
        // Blocks sharing a tls:// listener: the first block's certificates serve them all.
        if (key.transport === 'tls') l.tls ??= b.tls;
        if (!l.zones.add(key.zone, b) && !l.zones.blocks().includes(b)) {
          throw configError(b, `zone ${key.zone || '.'} is served by two server blocks on port ${port}`);
        }
      }
    }
  }
  return [...byKey.values()];
}
