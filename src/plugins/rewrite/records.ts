// Response rules applied to records (dns-packet's shape, names without the
// trailing dot). Records are never changed in place: a reply may be shared
// (memoized answers, cache entries), so a changed record is a copy.

import dnsPacket from 'dns-packet';
import { fqdn } from '../../dns/names.js';
import type { Reply, RR } from '../../dns/reply.js';
import type { Restore } from './message.js';
import type { ResponseRule } from './rules.js';

/** Absolute form, as rules match: "a.b." ("." for the root). */
function abs(name: string): string {
  return fqdn(name);
}

/** Back to dns-packet's form. */
function rel(name: string): string {
  return name === '.' ? '.' : name.endsWith('.') ? name.slice(0, -1) : name;
}

/** The name inside a record that `answer value` rewrites, by type (CoreDNS's getRecordValueForRewrite). */
function valueField(rr: RR): { get(): string; set(v: string): RR } | null {
  switch (rr.type) {
    case 'CNAME': case 'DNAME': case 'NS': case 'PTR':
      return { get: () => rr.data, set: (v) => ({ ...rr, data: v }) };
    case 'MX': return { get: () => rr.data.exchange, set: (v) => ({ ...rr, data: { ...rr.data, exchange: v } }) };
    case 'SRV': return { get: () => rr.data.target, set: (v) => ({ ...rr, data: { ...rr.data, target: v } }) };
    case 'SOA': return { get: () => rr.data.mname, set: (v) => ({ ...rr, data: { ...rr.data, mname: v } }) };
    case 'NAPTR': return { get: () => rr.data.replacement, set: (v) => ({ ...rr, data: { ...rr.data, replacement: v } }) };
    default: return null;
  }
}

/** One record through the rules, last rule first. */
function rewriteRecord(rr: RR, rules: readonly ResponseRule[]): RR {
  if (rr.type === 'OPT') return rr;
  const vf = valueField(rr);
  const name0 = abs(rr.name);
  const value0 = vf === null ? null : abs(vf.get());
  const ttl0 = (rr as { ttl?: number }).ttl ?? 0;
  let name = name0;
  let value = value0;
  let ttl = ttl0;
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i];
    if (r === undefined) continue; // i stays within rules
    if (r.kind === 'owner') name = r.rewrite(name);
    else if (r.kind === 'value') { if (value !== null) value = r.rewrite(value); }
    else if (r.kind === 'ttl') ttl = ttl < r.min ? r.min : ttl > r.max ? r.max : ttl;
  }
  if (name === name0 && value === value0 && ttl === ttl0) return rr;
  let out = vf !== null && value !== null && value !== value0 ? vf.set(rel(value)) : ({ ...rr } as RR);
  out = { ...out, name: rel(name), ttl } as RR;
  return out;
}

export function rewriteRecords(rrs: readonly RR[], rules: readonly ResponseRule[]): RR[] {
  if (!rules.some((r) => r.kind === 'owner' || r.kind === 'value' || r.kind === 'ttl')) return [...rrs];
  return rrs.map((rr) => rewriteRecord(rr, rules));
}

/** How the cname rule's own lookups are known when they come back through the chain. */
export function lookupKey(absName: string, type: number): string {
  return `${absName.toLowerCase()}|${type}`;
}

/**
 * The cname rule: the first CNAME whose target a rule maps gets the new
 * target; the CNAMEs before it stay, and what follows is looked up anew
 * for the new target (same type), through the whole server. TC comes from
 * that lookup, so a cut answer is not taken for a whole one.
 */
export async function retargetCname(answer: readonly RR[], plan: Restore): Promise<{ answer: RR[]; tc: boolean }> {
  const rules = plan.rules.filter((r) => r.kind === 'cname');
  for (const [i, rr] of answer.entries()) {
    const target = (rr as { data?: unknown }).data;
    if (rr.type !== 'CNAME' || typeof target !== 'string') continue;
    for (const rule of rules) {
      const to = rule.retarget(abs(target).toLowerCase());
      if (to === null) continue;
      const key = lookupKey(abs(to), rule.qtype);
      const kept = answer.slice(0, i).filter((x) => x.type === 'CNAME');
      kept.push({ ...rr, data: rel(to) } as RR);
      plan.inflight.set(key, (plan.inflight.get(key) ?? 0) + 1);
      let found: Reply;
      try {
        found = await plan.resolve(rel(to), rule.qtype);
      } finally {
        const n = (plan.inflight.get(key) ?? 1) - 1;
        if (n > 0) plan.inflight.set(key, n);
        else plan.inflight.delete(key);
      }
      const more = found.kind === 'relay' ? answersOf(found.wire) : { answer: found.answer, tc: false };
      return { answer: [...kept, ...more.answer], tc: more.tc };
    }
  }
  return { answer: [...answer], tc: false };
}

function answersOf(wire: Buffer): { answer: RR[]; tc: boolean } {
  try {
    const p = dnsPacket.decode(wire);
    return { answer: (p.answers ?? []) as RR[], tc: ((p.flags ?? 0) & 0x0200) !== 0 };
  } catch {
    return { answer: [], tc: false };
  }
}
