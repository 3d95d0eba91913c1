import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchService } from './cluster.js';

/** dnsmasq (kube-dns's old front cache) serving the same names from a hosts file; no upstream. */
export function dnsmasqArgs(dir: string, port: number, svcs: BenchService[], zone = 'cluster.local'): string[] {
  let hosts = '';
  let conf = '';
  for (const s of svcs) {
    const full = `${s.name}.${s.ns}.svc.${zone}`;
    for (const ip of s.ips) hosts += `${ip} ${full}\n`;
    conf += `srv-host=_http._tcp.${full},${full},80\n`;
  }
  writeFileSync(join(dir, 'dnsmasq.hosts'), hosts);
  writeFileSync(join(dir, 'dnsmasq.conf'), conf);
  return ['-k', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`,
    `--addn-hosts=${join(dir, 'dnsmasq.hosts')}`, `--conf-file=${join(dir, 'dnsmasq.conf')}`, `--local=/${zone}/`,
    '--local=/in-addr.arpa/', '--cache-size=10000', '--user=root', '--pid-file='];
}
