import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { Fallthrough } from '../../corefile/fallthrough.js';
import { type OptionSpec, type OptionTable, walkOptions } from '../../corefile/walk.js';
import { zoneArgs } from '../../corefile/zones.js';
import { log } from '../../log.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { DATA_FIELDS } from './data.js';
import { GoRegexError, goRegExp } from './goregex.js';
import { GoTemplate } from './gotemplate-exec.js';
import { TemplateSyntaxError } from './gotemplate.js';
import { TEMPLATE_FAMILIES } from './families.js';
import { TemplateMetrics } from './metrics.js';
import { parseRR, RR_TYPES, RRSyntaxError } from './rr.js';
import { CLASS_BY_NAME, classCode, RCODE_BY_NAME, TYPE_BY_NAME, typeCode } from './rrtypes.js';
import { TemplatePlugin, type Section, type TemplateSpec } from './template.js';

const USAGE = 'template CLASS TYPE [ZONE...]';
const section = (name: Section): OptionSpec<TemplateSpec> => ({
  args: [1, Infinity], usage: `${name} RR...`, repeat: true,
  apply(spec, o) { for (const text of o.args) spec.sections[name].push(compileRR(o, name, text)); },
});

const OPTIONS: OptionTable<TemplateSpec> = {
  match: {
    args: [1, Infinity], usage: 'match REGEX...', repeat: true,
    apply(spec, o) {
      for (const source of o.args) {
        try {
          spec.regexes.push({ re: goRegExp(source), source });
        } catch (err) {
          if (!(err instanceof GoRegexError)) throw err;
          throw configError(o, `template: could not parse regex ${JSON.stringify(source)}: ${err.message}`);
        }
      }
    },
  },
  answer: section('answer'),
  additional: section('additional'),
  authority: section('authority'),
  rcode: {
    args: [1, 1], usage: 'rcode RCODE',
    apply(spec, o) {
      const name = o.args[0] ?? '';
      const code = RCODE_BY_NAME.get(name);
      if (code === undefined) throw configError(o, `template: unknown rcode "${name}"; accepted: ${[...RCODE_BY_NAME.keys()].join(', ')}`);
      spec.rcode = code;
    },
  },
  fallthrough: { args: [0, Infinity], usage: 'fallthrough [ZONES...]', apply(spec, o) { spec.fallthrough = Fallthrough.parse(o, 'template'); } },
  // CoreDNS ignores it ("remove soon"): CNAME targets are always resolved through the server.
  upstream: { args: [0, Infinity], usage: 'upstream', apply() { /* accepted for compatibility */ } },
};
const NOT_SUPPORTED: Record<string, string> = {
  var: 'var (expr-lang expressions) is not supported by clusterdns',
  expr: 'expr (expr-lang expressions) is not supported by clusterdns',
  ederror: 'ederror is not supported by clusterdns (its replies carry no extended DNS error option)',
};

export function parseTemplateDirective(d: Directive, blockZones: readonly string[]): TemplateSpec {
  const [cls, type, ...zoneList] = d.args;
  if (cls === undefined || type === undefined) throw configError(d, `template: missing ${cls === undefined ? 'CLASS' : 'TYPE'}; usage: ${USAGE}`);
  const qclass = CLASS_BY_NAME.get(cls);
  if (qclass === undefined) throw configError(d, `template: invalid query class "${cls}"; accepted: ${[...CLASS_BY_NAME.keys()].join(', ')}`);
  const qtype = TYPE_BY_NAME.get(type);
  if (qtype === undefined) throw configError(d, `template: invalid query type "${type}" (e.g. A, AAAA, PTR, ANY; upper case)`);
  const spec: TemplateSpec = {
    qclass, qtype,
    zones: zoneList.length > 0 ? zoneArgs(zoneList, d, 'template') : [...blockZones],
    regexes: [],
    sections: { answer: [], additional: [], authority: [] },
    rcode: 0,
    fallthrough: Fallthrough.never,
  };
  walkOptions(d, 'template', OPTIONS, spec, { unsupported: NOT_SUPPORTED });
  return spec;
}

/**
 * Parses one RR template. What can be known before a query is checked here:
 * the template syntax, a record with no action at all, a literal type we
 * cannot encode, printing a whole object. A field name the data lacks is
 * a warning: CoreDNS starts with it and fails the matching queries.
 */
function compileRR(o: Directive, section: Section, text: string): GoTemplate {
  let t: GoTemplate;
  try {
    t = GoTemplate.parse(section, text);
  } catch (err) {
    if (!(err instanceof TemplateSyntaxError)) throw err;
    throw configError(o, `template: could not compile ${section} template ${JSON.stringify(text)}: ${err.message}`);
  }
  for (const chain of t.printedChains()) {
    if (chain.length === 0) throw configError(o, `template: ${section}: printing the whole data ({{ . }}) is not supported by clusterdns`);
    if (chain.length === 1 && chain[0] === 'Message') throw configError(o, `template: ${section}: printing the whole .Message is not supported by clusterdns; use its fields`);
  }
  for (const chain of t.fieldChains()) {
    const top = chain[0];
    if (top !== undefined && !DATA_FIELDS.includes(top)) {
      log('warn', 'template', `${o.file}:${o.line}: field .${top} does not exist (fields: ${DATA_FIELDS.join(', ')}); matching queries will get SERVFAIL`);
    }
  }
  if (t.isConstant()) {
    try {
      parseRR(t.render(''));
    } catch (err) {
      if (!(err instanceof RRSyntaxError)) throw err;
      throw configError(o, `template: ${section}: invalid resource record ${JSON.stringify(text)}: ${err.message}`);
    }
  } else {
    const type = literalType(t.skeleton());
    if (type !== null && typeCode(type) !== undefined && !(RR_TYPES as readonly string[]).includes(type.toUpperCase())) {
      throw configError(o, `template: ${section}: RR type ${type.toUpperCase()} is not supported by clusterdns (supported: ${RR_TYPES.join(', ')})`);
    }
  }
  return t;
}

/** The type token of a record whose text is known up to actions (U+0000), or null when an action may be it. */
function literalType(skeleton: string): string | null {
  const toks = skeleton.replace(/[()]/g, ' ').split(/\s+/).filter((x) => x !== '');
  let i = 1;
  for (let seen = 0; i < toks.length && seen < 2; i++, seen++) {
    const tok = toks[i];
    if (tok === undefined || tok.includes('\u0000')) return null;
    if (/^\d+$/.test(tok) || (classCode(tok) !== undefined && typeCode(tok) === undefined)) continue;
    break;
  }
  const tok = toks[i];
  return tok === undefined || tok.includes('\u0000') ? null : tok;
}

export const templatePlugin: PluginDefinition = {
  name: 'template',
  multiple: true,
  metrics: TEMPLATE_FAMILIES,
  setup: (d, ctx) => new TemplatePlugin(parseTemplateDirective(d, ctx.block.zones), new TemplateMetrics(), ctx.resolve),
};
