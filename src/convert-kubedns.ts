// `clusterdns convert-kubedns FILE`: reads a kube-dns ConfigMap (stubDomains,
// upstreamNameservers) and prints the equivalent Corefile: kubeadm's default
// `.:53` block forwarding to the upstream nameservers (or /etc/resolv.conf),
// plus one server block per stub domain.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { loadAllYaml } from './plugins/kubernetes/yaml.js';

export interface KubeDnsConfig {
  /** Stub zone (lower-case, no trailing dot) -> nameservers ("IP" or "IP:PORT" / "[v6]:PORT"). */
  stubDomains: Array<[string, string[]]>;
  upstreamNameservers: string[];
  /** Keys of data the conversion does not carry over (e.g. federations). */
  ignored: string[];
}

export interface ConvertOptions {
  /** Cluster domain (kube-dns took it as a flag, not from the ConfigMap). */
  domain?: string;
}

export class ConvertError extends Error {}

/** kube-dns accepted at most this many upstream nameservers. */
export const MAX_UPSTREAMS = 3;

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function domainName(key: string): string {
  const d = key.trim().toLowerCase().replace(/\.$/, '');
  if (d === '' || d.length > 253 || !d.split('.').every((l) => LABEL.test(l))) {
    throw new ConvertError(`stubDomains: "${key}" is not a valid domain name`);
  }
  return d;
}

/** "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" -> the form forward takes; else throws. */
function nameserver(s: unknown, where: string): string {
  if (typeof s !== 'string') throw new ConvertError(`${where}: ${JSON.stringify(s)} is not a string`);
  const v = s.trim();
  let host = v;
  let port: string | null = null;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  const [, bracketHost, bracketPort] = bracket ?? [];
  if (bracketHost !== undefined) {
    host = bracketHost;
    port = bracketPort ?? null;
  } else if (v.split(':').length === 2) {
    [host, port] = v.split(':') as [string, string];
  }
  const family = isIP(host);
  if (family === 0) throw new ConvertError(`${where}: "${v}" is not an IP address or IP:port (host names are not supported)`);
  if (port !== null && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    throw new ConvertError(`${where}: "${v}" has an invalid port`);
  }
  if (port === null || port === '53') return host;
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A ConfigMap data value holding JSON (kube-dns's format); an already-parsed value is taken as is. */
function jsonValue(v: unknown, key: string): unknown {
  if (typeof v !== 'string') return v;
  if (v.trim() === '') return undefined;
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new ConvertError(`data.${key} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads the `data` of a kube-dns ConfigMap. */
export function parseKubeDnsData(data: Record<string, unknown>): KubeDnsConfig {
  const out: KubeDnsConfig = { stubDomains: [], upstreamNameservers: [], ignored: [] };
  const stubs = jsonValue(data.stubDomains, 'stubDomains');
  if (stubs !== undefined && stubs !== null) {
    if (typeof stubs !== 'object' || Array.isArray(stubs)) throw new ConvertError('data.stubDomains must be a JSON object {"domain": ["IP", ...]}');
    const seen = new Set<string>();
    for (const [k, v] of Object.entries(stubs as Record<string, unknown>)) {
      const zone = domainName(k);
      if (seen.has(zone)) throw new ConvertError(`stubDomains: "${k}" is given twice`);
      seen.add(zone);
      if (!Array.isArray(v) || v.length === 0) throw new ConvertError(`stubDomains: "${k}" needs a non-empty list of nameservers`);
      if (v.length > 15) throw new ConvertError(`stubDomains: "${k}" has ${v.length} nameservers; at most 15`);
      out.stubDomains.push([zone, v.map((s) => nameserver(s, `stubDomains "${k}"`))]);
    }
  }
  const ups = jsonValue(data.upstreamNameservers, 'upstreamNameservers');
  if (ups !== undefined && ups !== null) {
    if (!Array.isArray(ups)) throw new ConvertError('data.upstreamNameservers must be a JSON list ["IP", ...]');
    if (ups.length > MAX_UPSTREAMS) throw new ConvertError(`upstreamNameservers: ${ups.length} given; kube-dns allows at most ${MAX_UPSTREAMS}`);
    out.upstreamNameservers = ups.map((s) => nameserver(s, 'upstreamNameservers'));
  }
  for (const k of Object.keys(data)) if (k !== 'stubDomains' && k !== 'upstreamNameservers') out.ignored.push(k);
  return out;
}

interface ConfigMapLike { kind?: string; metadata?: { name?: string; namespace?: string }; data?: Record<string, unknown>; items?: unknown[] }

/** The kube-dns ConfigMap among the documents (List items included): named kube-dns, or the only one with its keys. */
export function pickConfigMap(docs: unknown[]): ConfigMapLike {
  const all: ConfigMapLike[] = [];
  const walk = (d: unknown): void => {
    if (!d || typeof d !== 'object') return;
    const o = d as ConfigMapLike;
    if (Array.isArray(o.items)) o.items.forEach(walk);
    if (o.kind === 'ConfigMap') all.push(o);
  };
  docs.forEach(walk);
  const relevant = (c: ConfigMapLike) => c.data !== undefined && ('stubDomains' in c.data || 'upstreamNameservers' in c.data);
  const named = all.find((c) => c.metadata?.name === 'kube-dns');
  const cm = named ?? all.find(relevant);
  if (!cm) {
    throw new ConvertError(all.length === 0 ? 'no ConfigMap found' : 'no kube-dns ConfigMap found (none is named kube-dns or has stubDomains/upstreamNameservers)');
  }
  return cm;
}

const INDENT = '    ';

/** The Corefile for a kube-dns configuration: kubeadm's default block plus one block per stub domain. */
export function kubeDnsToCorefile(cfg: KubeDnsConfig, opts: ConvertOptions = {}): string {
  const domain = (opts.domain ?? 'cluster.local').toLowerCase().replace(/\.$/, '');
  const upstreams = cfg.upstreamNameservers.length > 0 ? cfg.upstreamNameservers.join(' ') : '/etc/resolv.conf';
  const lines = [
    '.:53 {',
    `${INDENT}errors`,
    `${INDENT}health {`,
    `${INDENT}   lameduck 5s`,
    `${INDENT}}`,
    `${INDENT}ready`,
    `${INDENT}kubernetes ${domain} in-addr.arpa ip6.arpa {`,
    `${INDENT}   pods insecure`,
    `${INDENT}   fallthrough in-addr.arpa ip6.arpa`,
    `${INDENT}   ttl 30`,
    `${INDENT}}`,
    `${INDENT}prometheus :9153`,
    `${INDENT}forward . ${upstreams} {`,
    `${INDENT}   max_concurrent 1000`,
    `${INDENT}}`,
    `${INDENT}cache 30 {`,
    `${INDENT}   disable success ${domain}`,
    `${INDENT}   disable denial ${domain}`,
    `${INDENT}}`,
    `${INDENT}loop`,
    `${INDENT}reload`,
    `${INDENT}loadbalance`,
    '}',
  ];
  for (const [zone, servers] of cfg.stubDomains) {
    lines.push(`${zone}:53 {`, `${INDENT}errors`, `${INDENT}cache 30`, `${INDENT}forward . ${servers.join(' ')}`, '}');
  }
  return `${lines.join('\n')}\n`;
}

/** YAML (one or more documents, or JSON) -> Corefile text. Throws ConvertError for bad input. */
export async function convertKubeDnsText(text: string, opts: ConvertOptions = {}): Promise<{ corefile: string; config: KubeDnsConfig; source: string }> {
  let docs: unknown[];
  try {
    docs = loadAllYaml(text);
  } catch (err) {
    throw new ConvertError(`cannot parse YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const cm = pickConfigMap(docs);
  const config = parseKubeDnsData(cm.data ?? {});
  const source = `${cm.metadata?.namespace ?? 'default'}/${cm.metadata?.name ?? '?'}`;
  return { corefile: kubeDnsToCorefile(config, opts), config, source };
}

const USAGE = 'usage: clusterdns convert-kubedns FILE [--domain DOMAIN]   (FILE "-" reads stdin)\n';

/** The subcommand: prints the Corefile on stdout, problems on stderr; returns the exit code. */
export async function runConvertKubeDns(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let file: string | null = null;
  const opts: ConvertOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === undefined) break;
    if (a === '--help' || a === '-h') { out(USAGE); return 0; }
    if (a === '--domain' || a.startsWith('--domain=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v || !v.split('.').every((l) => LABEL.test(l.toLowerCase()))) { err(`convert-kubedns: --domain needs a domain name\n${USAGE}`); return 2; }
      opts.domain = v;
    } else if (file === null && (a === '-' || !a.startsWith('-'))) {
      file = a;
    } else {
      err(`convert-kubedns: unexpected argument ${a}\n${USAGE}`);
      return 2;
    }
  }
  if (file === null) { err(`convert-kubedns: no FILE given\n${USAGE}`); return 2; }
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    err(`convert-kubedns: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  try {
    const { corefile, config, source } = await convertKubeDnsText(text, opts);
    for (const k of config.ignored) err(`convert-kubedns: warning: data.${k} is not converted (no equivalent)\n`);
    out(`# Converted from the kube-dns ConfigMap ${source} by clusterdns convert-kubedns.\n${corefile}`);
    return 0;
  } catch (e) {
    if (e instanceof ConvertError) { err(`convert-kubedns: ${file}: ${e.message}\n`); return 1; }
    throw e;
  }
}
