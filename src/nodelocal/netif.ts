// The interface that holds the node-local IPs (node-cache's pkg/netif), made
// with iproute2's `ip`. A dummy device as node-cache makes; kernels built
// without the dummy driver (some sandboxes) get an empty bridge, which holds
// addresses just as well and forwards nothing.

import { isIPv6 } from 'node:net';
import { log } from '../log.js';
import { runCommand } from './exec.js';

export interface InterfaceResult {
  /** The interface was missing and has been created. */
  created: boolean;
  /** Addresses that were missing and have been added back. */
  added: string[];
}

const IP = 'ip';

async function exists(name: string): Promise<boolean> {
  const r = await runCommand(IP, ['-o', 'link', 'show', 'dev', name]);
  if (r.code === 0) return true;
  if (/does not exist|Cannot find device/i.test(r.stderr)) return false;
  throw new Error(`ip link show ${name}: ${r.stderr}`);
}

async function create(name: string): Promise<void> {
  const dummy = await runCommand(IP, ['link', 'add', name, 'type', 'dummy']);
  if (dummy.code === 0) return;
  if (!/unknown device type|not supported|Operation not supported/i.test(dummy.stderr)) {
    throw new Error(`ip link add ${name} type dummy: ${dummy.stderr}`);
  }
  const bridge = await runCommand(IP, ['link', 'add', name, 'type', 'bridge']);
  if (bridge.code !== 0) throw new Error(`ip link add ${name}: no dummy driver (${dummy.stderr}) and bridge failed: ${bridge.stderr}`);
  log('info', 'node-local', 'no dummy driver in this kernel; using an empty bridge', { interface: name });
}

/** Addresses on the interface now (without prefix length). */
async function addresses(name: string): Promise<Set<string>> {
  const r = await runCommand(IP, ['-o', 'addr', 'show', 'dev', name]);
  if (r.code !== 0) throw new Error(`ip addr show ${name}: ${r.stderr}`);
  const out = new Set<string>();
  for (const [, ip] of r.stdout.matchAll(/\sinet6?\s+([^/\s]+)/g)) if (ip !== undefined) out.add(ip);
  return out;
}

/** Makes sure the interface exists, is up and holds every IP; returns what it had to fix. */
export async function ensureInterface(name: string, ips: readonly string[]): Promise<InterfaceResult> {
  const created = !(await exists(name));
  if (created) await create(name);
  const have = await addresses(name);
  const added: string[] = [];
  for (const ip of ips) {
    if (have.has(ip)) continue;
    // Duplicate address detection would keep an IPv6 address tentative (unbindable) for a while.
    const args = isIPv6(ip) ? ['addr', 'add', `${ip}/128`, 'dev', name, 'nodad'] : ['addr', 'add', `${ip}/32`, 'dev', name];
    const r = await runCommand(IP, args);
    if (r.code !== 0 && !/File exists/i.test(r.stderr)) throw new Error(`ip addr add ${ip} dev ${name}: ${r.stderr}`);
    added.push(ip);
  }
  const up = await runCommand(IP, ['link', 'set', name, 'up']);
  if (up.code !== 0) throw new Error(`ip link set ${name} up: ${up.stderr}`);
  return { created, added };
}

/** Deletes the interface (its addresses go with it); a missing one is fine. */
export async function removeInterface(name: string): Promise<void> {
  const r = await runCommand(IP, ['link', 'del', name]);
  if (r.code !== 0 && !/does not exist|Cannot find device/i.test(r.stderr)) throw new Error(`ip link del ${name}: ${r.stderr}`);
}
