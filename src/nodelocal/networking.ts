// What node-cache keeps in place around the server: the interface holding
// the local IPs and the iptables rules, checked every -syncinterval and put
// back if someone (or something) removed them, and taken down on exit.

import { log } from '../log.js';
import type { NodeLocalFlags } from './flags.js';
import { describeRule, detectIptables, Iptables, IptablesError, iptablesFamily, nodeLocalRules, type Rule } from './iptables.js';
import { ensureInterface, removeInterface } from './netif.js';
import type { SetupErrors } from './metrics.js';

export class NodeNetworking {
  private iptables: Iptables | null = null;
  private readonly rules: Rule[];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private busy = false;
  private stopped = false;
  /** The first check adds every rule; later additions are repairs. */
  private rulesSeen = false;

  constructor(private readonly flags: NodeLocalFlags, private readonly errors: SetupErrors) {
    this.rules = flags.setupIptables ? nodeLocalRules(flags.localIps, flags.dnsPort, flags.healthPort) : [];
  }

  /** The iptables command in use (after the first ensure), for logs and tests. */
  get iptablesCommand(): string | null {
    return this.iptables?.command ?? null;
  }

  /**
   * Interface only: the server needs its addresses to bind, but the rules
   * wait until it serves, so a cache that fails to start never captures
   * the node's DNS traffic (node-cache's order).
   */
  async setupInterface(): Promise<void> {
    if (!this.flags.setupInterface) return;
    const r = await ensureInterface(this.flags.interfaceName, this.flags.localIps);
    if (r.created) log('info', 'node-local', 'added interface', { interface: this.flags.interfaceName, ips: this.flags.localIps.join(',') });
  }

  /** One check of everything; errors are logged and counted, never thrown (the next tick retries). */
  ensureAll(): Promise<void> {
    // A check slower than -syncinterval (24 iptables runs on a busy node) is not queued behind itself.
    if (this.busy) return this.running;
    this.busy = true;
    this.running = this.check().finally(() => { this.busy = false; });
    return this.running;
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    if (this.rules.length > 0) {
      try {
        this.iptables ??= new Iptables(await detectIptables(iptablesFamily(this.flags.localIps)));
        for (const rule of this.rules) {
          if (await this.iptables.ensure(rule)) log('info', 'node-local', this.rulesSeen ? 'added back iptables rule' : 'added iptables rule', { rule: describeRule(rule), iptables: this.iptables.command });
        }
        this.rulesSeen = true;
      } catch (err) {
        this.errors.inc(err instanceof IptablesError && err.locked ? 'iptables_lock' : 'iptables');
        log('error', 'node-local', 'cannot check or add iptables rules', { err });
      }
    }
    if (this.flags.setupInterface) {
      try {
        const r = await ensureInterface(this.flags.interfaceName, this.flags.localIps);
        if (r.created) log('info', 'node-local', 'added interface back', { interface: this.flags.interfaceName });
        else if (r.added.length > 0) log('info', 'node-local', 'added addresses back', { interface: this.flags.interfaceName, ips: r.added.join(',') });
      } catch (err) {
        this.errors.inc('interface_check');
        log('error', 'node-local', 'cannot check or add the interface', { interface: this.flags.interfaceName, err });
      }
    }
  }

  /** Checks now and then every -syncinterval. */
  startSync(): void {
    void this.ensureAll();
    this.timer = setInterval(() => { void this.ensureAll(); }, this.flags.syncIntervalMs);
  }

  /** Stops the checks and removes the rules and the interface (node-cache's TeardownNetworking). */
  async teardown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    log('info', 'node-local', 'tearing down the interface and iptables rules');
    if (this.rules.length > 0) {
      try {
        this.iptables ??= new Iptables(await detectIptables(iptablesFamily(this.flags.localIps)));
        for (const rule of this.rules) await this.iptables.remove(rule);
      } catch (err) {
        log('error', 'node-local', 'cannot remove iptables rules', { err });
      }
    }
    if (this.flags.setupInterface) {
      try {
        await removeInterface(this.flags.interfaceName);
      } catch (err) {
        log('error', 'node-local', 'cannot remove the interface', { interface: this.flags.interfaceName, err });
      }
    }
  }

  /** Stops the checks and leaves everything in place (-skipteardown). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
