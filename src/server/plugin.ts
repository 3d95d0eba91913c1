import type { Directive } from '../corefile/ast.js';
import type { ServerKey } from '../corefile/keys.js';
import type { ParsedQuery } from '../dns/query.js';
import type { QueryTrace } from '../explain/trace.js';
import type { AnswerReply, Reply, RR } from '../dns/reply.js';
import type { MetricFamilies, Placement, PluginSample } from '../metrics/plugins.js';
import type { Services } from '../services.js';
import type { ServerTls } from './tls-listener.js';

/** One query on its way through a server block's chain. */
export interface Request extends ParsedQuery {
  readonly raw: Buffer;
  readonly proto: 'udp' | 'tcp';
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The address the query arrived at: the TCP connection's, or the UDP socket's bound address ("::" for a wildcard, as CoreDNS reports it). */
  readonly localAddress: string;
  /** The server block zone that took this query (lower-case, "" for the root). */
  readonly zone: string;
  /** The listener, as CoreDNS labels it: "dns://:53". */
  readonly server: string;
  /** performance.now() when the query arrived; 0 when the block has no observer (nothing reads it then). */
  readonly start: number;
  /** Set on queries the server sends itself (CNAME chasing, loop probe): no metrics, no log. */
  readonly internal: boolean;
  /** Only on queries `explain` runs: plugins note what they decided (which upstream, cache hit). */
  readonly trace?: QueryTrace;
}

/** A plugin's account of a name, for `explain`: a summary line, details as lines, and the same as data. */
export interface PluginExplanation {
  plugin: string;
  summary: string;
  lines: string[];
  data: unknown;
}

/** A bound listener socket ("::" / "0.0.0.0" when bound to every interface). */
export interface ListenAddress {
  address: string;
  port: number;
  proto: 'udp' | 'tcp';
}

export type Handler = (req: Request) => Reply | Promise<Reply>;

/**
 * A plugin instance built from one Corefile directive. Plugins in the query
 * path implement `serve` (answer, or call `next`); plugins that only watch
 * implement `observe`; side servers (health, ready, prometheus) use
 * `start`/`stop` only.
 */
export interface Plugin {
  readonly name: string;
  serve?(req: Request, next: Handler): Reply | Promise<Reply>;
  /** Called after each answer is encoded, with the bytes sent and the duration (ms). */
  observe?(req: Request, reply: Reply, wire: Buffer, durationMs: number): void;
  /**
   * Question classes this plugin answers besides IN (a `chaos` plugin: CH).
   * The server REFUSES a class that no block of the listener declares, and
   * a block's chain for a class other than IN holds only the plugins that
   * declare it, so IN data never answers a CH question. A plugin that
   * turns such a query into an IN one (rewrite's `class CH IN`) declares
   * the class too: the query then goes on in the IN chain after it.
   */
  readonly classes?: readonly number[];
  /**
   * A query on this plugin's listener that the server REFUSED before any
   * block took it (no zone matches, or a class nobody serves): CoreDNS
   * counts these under zone "dropped". Called on one plugin of each name per
   * listener, since plugins of one name share what they count.
   */
  observeDropped?(req: Request, reply: Reply, wire: Buffer, durationMs: number): void;
  /** Before listeners open; may wait (kubernetes waits for its first sync). */
  start?(): Promise<void> | void;
  /**
   * After every listener is open, with the addresses this plugin's block is
   * reachable at (the loop plugin sends its probe there). Not awaited for
   * long work: start it in the background and return.
   */
  afterListen?(addresses: ListenAddress[]): Promise<void> | void;
  /** On shutdown or reload, after listeners closed. */
  stop?(): Promise<void> | void;
  /**
   * Process shutdown (SIGTERM) begins: DNS keeps serving until every
   * plugin's shutdown() resolves, then listeners close (health's lameduck).
   * Not called on reload.
   */
  shutdown?(): Promise<void> | void;
  /** Readiness for the `ready` plugin: undefined = does not report. */
  ready?(): boolean;
  /**
   * `explain`: why this plugin answers (or would answer) the name as it does,
   * for names it is responsible for; null for names it does not handle.
   */
  explain?(lname: string, qtype: number): Promise<PluginExplanation | null> | PluginExplanation | null;
  /** The tls plugin: certificates for the block's tls:// listeners. */
  readonly serverTls?: ServerTls;
  /** True when this plugin recurses for clients (sets RA). */
  readonly recursive?: boolean;
  /**
   * Samples of the families its PluginDefinition.metrics declares, read at
   * each scrape. Counters (monotonic samples) of an instance a reload
   * replaced are carried over by the collector.
   */
  collectMetrics?(at: Placement): PluginSample[];
  /**
   * Largest UDP answer this plugin's block sends to EDNS clients (`bufsize`):
   * the block's answers are cut (TC) at the smallest of this, the client's
   * buffer and the server's own cap.
   */
  readonly udpSizeLimit?: number;
  /**
   * A zone transfer source (file, kubernetes): every record of `zone` (its
   * apex, lower-case, "" for the root), the SOA first and once (the
   * `transfer` plugin sends the closing SOA); null when this plugin does not
   * hold that zone, so the next source is asked.
   */
  transfer?(zone: string): Iterable<RR> | AsyncIterable<RR> | null;
  /** Once its block is built, with every plugin of the block in chain order (`transfer` finds its sources here). */
  linkBlock?(plugins: readonly Plugin[]): void;
}

/** Facts about the block a directive sits in. */
export interface BlockInfo {
  keys: ServerKey[];
  /** Zones of the block's keys, lower-case, "" for the root. */
  zones: string[];
  directives: Directive[];
  file: string;
  line: number;
}

export interface SetupContext {
  block: BlockInfo;
  /**
   * Resolve a name through the whole server, as a client would (CNAME
   * chasing); a dropped query comes back SERVFAIL. With `from`, the query
   * comes from that request's client (address, port, transport), as
   * CoreDNS's upstream lookups reuse the client's writer: acl judges it.
   */
  resolve(name: string, type: number, from?: Request): Promise<AnswerReply>;
  /** Process-wide services shared by blocks, outliving reloads (side servers, metrics, the server). */
  services: Services;
  /**
   * The plugin another directive of this block built (autopath asks for
   * `kubernetes`, as CoreDNS's dnsserver.GetConfig(c).Handler does).
   * Filled as the block is built: ask from start() or later, not in setup().
   */
  peer(name: string): Plugin | undefined;
}

export interface PluginDefinition {
  /** The Corefile directive. */
  name: string;
  /** May the directive appear more than once in a block? */
  multiple?: boolean;
  /** Metric families this plugin's instances report through Plugin.collectMetrics(). */
  metrics?: MetricFamilies;
  /** Validates the directive and builds the plugin; null for config-only directives (bind). */
  setup(d: Directive, ctx: SetupContext): Plugin | null;
}
