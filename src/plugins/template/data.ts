// What a template sees (CoreDNS's templateData): .Zone .Name .Regex .Match
// .Group .Class .Type .Message .Question .Remote .Var and .Meta. Built only
// for a query that matched; the larger parts (.Group, .Message, .Question)
// are made when a template reads them.

import { QCLASS, QTYPE } from '../../dns/constants.js';
import { fqdn } from '../../dns/names.js';
import type { Request } from '../../server/plugin.js';
import { TemplateExecError, type GoObject, type Value } from './gotemplate-exec.js';
import type { CompiledRegex } from './template.js';
import { classText, typeText } from './rrtypes.js';

/** Top-level fields a template may read. */
export const DATA_FIELDS = ['Zone', 'Name', 'Regex', 'Match', 'Group', 'Class', 'Type', 'Message', 'Question', 'Remote', 'Var', 'Meta'];

const EMPTY_MAP: ReadonlyMap<string, Value> = new Map();

export class TemplateData implements GoObject {
  readonly goType = '*template.templateData';
  readonly classText: string;
  readonly typeText: string;
  private group: ReadonlyMap<string, Value> | null = null;

  constructor(
    private readonly req: Request,
    readonly zoneText: string,
    private readonly qname: string,
    private readonly regex: CompiledRegex | null,
    private readonly match: RegExpExecArray | null,
    tclass: number,
    ttype: number,
  ) {
    // A question of class/type ANY is shown as the template's own class/type (CoreDNS).
    this.classText = classText(req.qclass !== QCLASS.ANY ? req.qclass : tclass);
    this.typeText = typeText(req.type !== QTYPE.ANY ? req.type : ttype);
  }

  field(name: string): Value | undefined {
    switch (name) {
      case 'Zone': return this.zoneText;
      case 'Name': return this.qname;
      case 'Regex': return this.regex?.source ?? '.*';
      case 'Match': return this.matches();
      case 'Group': return this.groups();
      case 'Class': return this.classText;
      case 'Type': return this.typeText;
      case 'Message': return new MessageView(this.req);
      case 'Question': return new QuestionView(this.req);
      case 'Remote': return remoteIP(this.req.remoteAddress);
      case 'Var': return EMPTY_MAP;
      default: return undefined;
    }
  }

  /** `.Meta "name"`: metadata values; clusterdns has no metadata plugin, so always "" (as CoreDNS without one). */
  call(name: string, args: readonly Value[]): Value | undefined {
    if (name !== 'Meta') return undefined;
    if (args.length !== 1) throw new TemplateExecError(`wrong number of args for Meta: want 1 got ${args.length}`);
    if (typeof args[0] !== 'string') throw new TemplateExecError('wrong type for value; expected string');
    return '';
  }

  private matches(): string[] {
    const m = this.match;
    if (m === null) return [this.qname];
    const out: string[] = [];
    for (let i = 0; i < m.length; i++) out.push(m[i] ?? '');
    return out;
  }

  /** Group numbers ("0", "1"...) and names, as CoreDNS fills its map. */
  private groups(): ReadonlyMap<string, Value> {
    if (this.group !== null) return this.group;
    const g = new Map<string, Value>();
    this.matches().forEach((v, i) => g.set(String(i), v));
    for (const [k, v] of Object.entries(this.match?.groups ?? {})) g.set(k, v ?? '');
    this.group = g;
    return g;
  }
}

/** An IPv4 client on a dual-stack socket prints as IPv4, as Go prints it. */
function remoteIP(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** dns.Question: Name as the client spelled it, Qtype and Qclass as numbers. */
class QuestionView implements GoObject {
  readonly goType = '*dns.Question';

  constructor(private readonly req: Request) {}

  field(name: string): Value | undefined {
    switch (name) {
      case 'Name': return fqdn(this.req.name);
      case 'Qtype': return this.req.type;
      case 'Qclass': return this.req.qclass;
      default: return undefined;
    }
  }

  /** miekg's Question.String(), as `{{ .Question }}` prints it. */
  print(): string {
    const cls = classText(this.req.qclass) || `CLASS${this.req.qclass}`;
    const type = typeText(this.req.type) || `TYPE${this.req.type}`;
    return `;${fqdn(this.req.name)}\t${cls}\t ${type}`;
  }
}

/** dns.Msg of the query: its header fields and question; the record sections are not offered. */
class MessageView implements GoObject {
  readonly goType = '*dns.Msg';

  constructor(private readonly req: Request) {}

  field(name: string): Value | undefined {
    const f = this.req.flags;
    switch (name) {
      case 'Id': return this.req.id;
      case 'Response': return false;
      case 'Opcode': return this.req.opcode;
      case 'Authoritative': return (f & 0x0400) !== 0;
      case 'Truncated': return (f & 0x0200) !== 0;
      case 'RecursionDesired': return (f & 0x0100) !== 0;
      case 'RecursionAvailable': return (f & 0x0080) !== 0;
      case 'Zero': return (f & 0x0040) !== 0;
      case 'AuthenticatedData': return (f & 0x0020) !== 0;
      case 'CheckingDisabled': return (f & 0x0010) !== 0;
      case 'Rcode': return f & 0xf;
      case 'Compress': return false;
      case 'Question': return [new QuestionView(this.req)];
      case 'Answer': case 'Ns': case 'Extra':
        throw new TemplateExecError(`.Message.${name} is not supported by clusterdns's template plugin`);
      default: return undefined;
    }
  }
}
