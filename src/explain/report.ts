import type { ExplainReport } from './chain.js';

/** The report as a person reads it; `--json` prints the report object itself. */
export function formatReport(r: ExplainReport): string {
  const out: string[] = [];
  out.push(`question: ${r.question.name} ${r.question.type}`);
  if (r.block === null) {
    out.push(`server block: none (${r.error ?? 'no block serves this name'})`);
    return `${out.join('\n')}\n`;
  }
  out.push(`server block: ${r.block.zones.join(' ')} (${r.block.file}:${r.block.line})`);
  out.push(`chain: ${r.chain.map((s) => `${s.plugin} (${s.outcome})`).join(' -> ') || '(no plugin serves queries)'}`);
  const rep = r.reply;
  const end = r.chain.every((s) => s.outcome === 'passed') ? ' (every plugin passed it on: the end of the chain answers SERVFAIL)' : '';
  out.push(`answer: ${rep.rcode}${rep.aa ? ' (authoritative)' : ''} from ${r.answeredBy}${end}`);
  for (const [title, list] of [['answer', rep.answer], ['authority', rep.authority], ['additional', rep.additional]] as const) {
    if (list.length === 0) continue;
    out.push(`  ${title}:`);
    for (const line of list) out.push(`    ${line}`);
  }
  if (r.error !== undefined) out.push(`error: ${r.error}`);
  for (const n of r.notes) out.push(`${n.plugin}: ${n.text}`);
  for (const e of r.explanations) {
    out.push(`${e.plugin}: ${e.summary}`);
    for (const line of e.lines) out.push(`  ${line}`);
  }
  return `${out.join('\n')}\n`;
}
