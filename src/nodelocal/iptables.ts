// node-cache's packet path: conntrack is skipped (raw NOTRACK) for DNS to
// and from the local IPs, which is what removes the UDP conntrack races,
// and the untracked packets are let through the filter table explicitly.
// Rules are checked with -C and prepended with -I, as k8s' EnsureRule does.

import { isIPv6 } from 'node:net';
import { runCommand } from './exec.js';

export const COMMENT_SKIP_CONNTRACK = 'NodeLocal DNS Cache: skip conntrack';
export const COMMENT_ALLOW = 'NodeLocal DNS Cache: allow DNS traffic';

export interface Rule { table: 'raw' | 'filter'; chain: 'PREROUTING' | 'INPUT' | 'OUTPUT'; args: string[] }

/** The same rules, in the same order, as node-cache's initIptables. */
export function nodeLocalRules(localIps: readonly string[], dnsPort: number, healthPort: number): Rule[] {
  const rules: Rule[] = [];
  const port = String(dnsPort);
  const health = String(healthPort);
  const skip = ['-j', 'NOTRACK', '-m', 'comment', '--comment', COMMENT_SKIP_CONNTRACK];
  const allow = ['-j', 'ACCEPT', '-m', 'comment', '--comment', COMMENT_ALLOW];
  for (const ip of localIps) {
    for (const [table, chain, dir, target] of [
      ['raw', 'PREROUTING', 'd', skip], ['filter', 'INPUT', 'd', allow],
      ['raw', 'OUTPUT', 's', skip], ['filter', 'OUTPUT', 's', allow],
      ['raw', 'OUTPUT', 'd', skip],
    ] as const) {
      for (const proto of ['tcp', 'udp']) {
        rules.push({ table, chain, args: ['-p', proto, `-${dir}`, ip, `--${dir}port`, port, ...target] });
      }
    }
    // The liveness probe's connections to health.
    rules.push({ table: 'raw', chain: 'OUTPUT', args: ['-p', 'tcp', '-d', ip, '--dport', health, ...skip] });
    rules.push({ table: 'raw', chain: 'OUTPUT', args: ['-p', 'tcp', '-s', ip, '--sport', health, ...skip] });
  }
  return rules;
}

export class IptablesError extends Error {
  constructor(message: string, readonly locked: boolean) { super(message); }
}

/**
 * The iptables command for the host's backend. CLUSTERDNS_IPTABLES names it
 * outright; otherwise, where both backends are installed, the one already
 * holding more rules is the one kube-proxy uses (iptables-wrapper's rule),
 * nft on a tie.
 */
export async function detectIptables(ipv6: boolean, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const forced = env.CLUSTERDNS_IPTABLES?.trim();
  const base = ipv6 ? 'ip6tables' : 'iptables';
  if (forced) return ipv6 ? forced.replace(/^iptables/, 'ip6tables') : forced;
  const count = async (variant: 'nft' | 'legacy'): Promise<number> => {
    const r = await runCommand(`${base}-${variant}-save`, []);
    return r.code === 0 ? r.stdout.split('\n').filter((l) => l.startsWith('-A')).length : -1;
  };
  const [nft, legacy] = await Promise.all([count('nft'), count('legacy')]);
  if (nft < 0 && legacy < 0) return base;
  return legacy > nft ? `${base}-legacy` : nft >= 0 ? `${base}-nft` : `${base}-legacy`;
}

export function describeRule(rule: Rule): string {
  return `-t ${rule.table} ${rule.chain} ${rule.args.join(' ')}`;
}

export class Iptables {
  constructor(readonly command: string, private readonly waitSeconds = 5) {}

  private run(op: '-C' | '-I' | '-D', rule: Rule) {
    return runCommand(this.command, ['-w', String(this.waitSeconds), '-t', rule.table, op, rule.chain, ...rule.args]);
  }

  private fail(what: string, rule: Rule, stderr: string): IptablesError {
    return new IptablesError(`${this.command} ${what} ${describeRule(rule)}: ${stderr}`, /xtables lock/i.test(stderr));
  }

  /** Adds the rule at the top of its chain unless present; true if it had to be added. */
  async ensure(rule: Rule): Promise<boolean> {
    const check = await this.run('-C', rule);
    if (check.code === 0) return false;
    // -C says 1 for "no such rule"; anything else (no binary, no table, lock) is a real error.
    if (check.code !== 1 || /xtables lock/i.test(check.stderr)) throw this.fail('-C', rule, check.stderr);
    const add = await this.run('-I', rule);
    if (add.code !== 0) throw this.fail('-I', rule, add.stderr);
    return true;
  }

  /** Deletes every copy of the rule (it may have been added twice); false if there was none. */
  async remove(rule: Rule): Promise<boolean> {
    let removed = false;
    for (let i = 0; i < 16; i++) {
      const del = await this.run('-D', rule);
      if (del.code !== 0) {
        if (/xtables lock/i.test(del.stderr)) throw this.fail('-D', rule, del.stderr);
        return removed;
      }
      removed = true;
    }
    return removed;
  }
}

export function iptablesFamily(localIps: readonly string[]): boolean {
  const first = localIps[0];
  return first !== undefined && isIPv6(first);
}
