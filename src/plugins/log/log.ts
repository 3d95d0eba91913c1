import { classifyWire } from '../../dns/classify.js';
import { className, FLAG, rcodeName, typeName } from '../../dns/constants.js';
import { fqdn, isSubdomain } from '../../dns/names.js';
import type { Reply } from '../../dns/reply.js';
import { logRaw } from '../../log.js';
import type { Plugin, Request } from '../../server/plugin.js';
import type { LogOptions } from './setup.js';

export class LogPlugin implements Plugin {
  readonly name = 'log';

  constructor(private readonly opts: LogOptions) {}

  observe(req: Request, _reply: Reply, wire: Buffer, ms: number): void {
    if (req.internal) return;
    if (!this.opts.names.some((n) => isSubdomain(req.lname, n))) return;
    if (!this.opts.classes.has(classifyWire(wire))) return;
    logRaw(formatQueryLine(req, wire, ms));
  }
}

/** CoreDNS's default log line: {remote}:{port} - {id} "{type} {class} {name} {proto} {size} {do} {bufsize}" {rcode} {rflags} {rsize} {duration} */
export function formatQueryLine(req: Request, wire: Buffer, ms: number): string {
  const flags = wire.readUInt16BE(2);
  const rflags: string[] = [];
  if (flags & FLAG.QR) rflags.push('qr');
  if (flags & FLAG.AA) rflags.push('aa');
  if (flags & FLAG.TC) rflags.push('tc');
  if (flags & FLAG.RD) rflags.push('rd');
  if (flags & FLAG.RA) rflags.push('ra');
  const remote = req.remoteAddress.startsWith('::ffff:') ? req.remoteAddress.slice(7) : req.remoteAddress;
  const host = remote.includes(':') ? `[${remote}]` : remote;
  const bufsize = req.edns ? req.edns.udpSize : 512;
  const rcode = rcodeName(((wire.length >= 4 ? wire[3]! & 0xf : 2)));
  return `[INFO] ${host}:${req.remotePort} - ${req.id} "${typeName(req.type)} ${className(req.qclass)} ${fqdn(req.name)} ${req.proto} ${req.raw.length} ${req.edns?.do === true} ${bufsize}" ${rcode} ${rflags.join(',')} ${wire.length} ${(ms / 1000).toFixed(9)}s`;
}
