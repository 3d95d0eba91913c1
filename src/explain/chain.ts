// Runs one question through the real chain of the block that would take it,
// recording which plugins passed it on and which one answered. The chain is
// composed anew for this one query from the block's plugins (the same
// instances, in the same order as build.ts composes them), so served queries
// pay nothing for explain.

import { performance } from 'node:perf_hooks';
import { zoneText } from '../corefile/zones.js';
import { rcodeName, RCODE, typeName } from '../dns/constants.js';
import { fqdn, isSubdomain } from '../dns/names.js';
import { sectionsOf } from '../dns/relay.js';
import { buildQuery } from '../dns/build-query.js';
import { isProblem, parseQuery } from '../dns/query.js';
import { carriesMessage, failure, records, type AnswerReply, type Reply } from '../dns/reply.js';
import type { Block } from '../server/build.js';
import type { Handler, Plugin, PluginExplanation, Request } from '../server/plugin.js';
import { recordLine } from './records.js';
import { NoteList, type TraceNote } from './trace.js';

export interface ChainStep {
  plugin: string;
  /** "answered": it returned a reply without asking the next plugin. */
  outcome: 'answered' | 'passed';
}

export interface ExplainReport {
  question: { name: string; type: string };
  /** The server block that takes the name (longest matching zone, first in the file on a tie). */
  block: { zones: string[]; file: string; line: number } | null;
  chain: ChainStep[];
  /** The plugin whose reply went out; "server" when no plugin answered (end of chain: SERVFAIL). */
  answeredBy: string;
  reply: { rcode: string; aa: boolean; answer: string[]; authority: string[]; additional: string[] };
  /** What plugins noted while serving it (forward's upstream, cache hit or miss). */
  notes: TraceNote[];
  /** Plugins' own accounts of the name (kubernetes: the objects behind it). */
  explanations: PluginExplanation[];
  error?: string;
}

/** The block a name goes to: the most specific zone, over every block (whatever its port). */
export function blockFor(blocks: readonly Block[], lname: string): { block: Block; zone: string } | null {
  let best: { block: Block; zone: string } | null = null;
  for (const block of blocks) {
    for (const zone of block.zones) {
      const inside = isSubdomain(lname, zone);
      if (inside && (best === null || zone.length > best.zone.length)) best = { block, zone };
    }
  }
  return best;
}

/** Resolve through the blocks as the server would, untraced (ExternalName chasing in the CLI). */
export function resolverFor(blocks: () => readonly Block[]): (name: string, type: number) => Promise<AnswerReply> {
  return async (name, type) => {
    const lname = name.toLowerCase().replace(/\.$/, '');
    const m = blockFor(blocks(), lname);
    if (m === null) return failure(RCODE.REFUSED, 'server');
    const r = await m.block.handler(request(lname, type, m.zone, undefined));
    return carriesMessage(r) ? r : failure(RCODE.SERVFAIL, r.by, new Error(`${name}: no single answer (${r.kind})`));
  };
}

/** A query with real bytes (forward relays them upstream), as the server's own internal queries are built. */
function request(lname: string, type: number, zone: string, trace: NoteList | undefined): Request {
  const raw = buildQuery(lname, type, 1, { ednsSize: EXPLAIN_EDNS_SIZE });
  const q = parseQuery(raw);
  if (isProblem(q)) throw new Error(`cannot build a query for ${lname || '.'}: ${q.reason}`);
  return {
    ...q, raw, proto: 'udp', remoteAddress: '127.0.0.1', remotePort: 0, localAddress: '127.0.0.1',
    zone, server: 'explain', start: performance.now(), internal: true, trace,
  };
}

/** The EDNS size explain's queries announce (the server's own internal queries use the same). */
const EXPLAIN_EDNS_SIZE = 1232;

const endOfChain = (): Reply => failure(RCODE.SERVFAIL, 'server');

function tracedChain(block: Block, steps: ChainStep[]): Handler {
  let handler: Handler = endOfChain;
  for (let i = block.plugins.length - 1; i >= 0; i--) {
    const p = block.plugins[i];
    if (p === undefined || !p.serve) continue;
    const next = handler;
    const serve = p.serve.bind(p);
    handler = (req) => {
      const step: ChainStep = { plugin: p.name, outcome: 'answered' };
      steps.push(step);
      return serve(req, (r) => {
        step.outcome = 'passed';
        return next(r);
      });
    };
  }
  return handler;
}

/** Runs `name` through the chain that takes it and collects the reasons. */
export async function traceQuery(blocks: readonly Block[], name: string, qtype: number): Promise<ExplainReport> {
  const lname = name.toLowerCase().replace(/\.$/, '');
  const report: ExplainReport = {
    question: { name: fqdn(lname), type: typeName(qtype) },
    block: null,
    chain: [],
    answeredBy: 'server',
    reply: { rcode: 'REFUSED', aa: false, answer: [], authority: [], additional: [] },
    notes: [],
    explanations: [],
  };
  const m = blockFor(blocks, lname);
  if (m === null) {
    report.error = 'no server block serves this name: the server answers REFUSED';
    return report;
  }
  const { block, zone } = m;
  report.block = { zones: block.zones.map(zoneText), file: block.file, line: block.line };
  const trace = new NoteList();
  let r: Reply;
  try {
    r = await tracedChain(block, report.chain)(request(lname, qtype, zone, trace));
  } catch (err) {
    r = failure(RCODE.SERVFAIL, 'server', err instanceof Error ? err : new Error(String(err)));
  }
  report.notes = trace.notes;
  const answered = [...report.chain].reverse().find((s) => s.outcome === 'answered');
  report.answeredBy = r.by !== '' ? r.by : answered?.plugin ?? 'server';
  if (r.kind === 'drop') report.error = `dropped by ${r.by}: no answer is sent`;
  if (r.kind === 'transfer') report.error = `a zone transfer by ${r.by}: ${r.messages.length} messages`;
  const sections = r.kind === 'relay' ? sectionsOf(r.wire, r.by) : r.kind === 'records' ? r : records(RCODE.NOERROR, r.by, r.aa);
  report.reply = {
    rcode: rcodeName(r.kind === 'relay' ? sections.rcode : r.rcode),
    aa: sections.aa,
    answer: sections.answer.map(recordLine),
    authority: sections.authority.map(recordLine),
    additional: sections.additional.map(recordLine),
  };
  if (r.error) report.error = r.error.message;
  await explainWith(block.plugins, lname, qtype, report.explanations);
  // No plugin of this block owns the name: plugins of other blocks may still
  // recognise it (kubernetes: a short name a pod's search list completes).
  if (report.explanations.length === 0) {
    await explainWith(blocks.filter((b) => b !== block).flatMap((b) => b.plugins), lname, qtype, report.explanations);
  }
  return report;
}

async function explainWith(plugins: readonly Plugin[], lname: string, qtype: number, out: PluginExplanation[]): Promise<void> {
  for (const p of new Set(plugins)) {
    if (!p.explain) continue;
    try {
      const e = await p.explain(lname, qtype);
      if (e !== null) out.push(e);
    } catch (err) {
      out.push({ plugin: p.name, summary: `could not explain: ${(err as Error).message}`, lines: [], data: null });
    }
  }
}
