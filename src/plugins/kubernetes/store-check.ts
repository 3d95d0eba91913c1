// What may reach the wire. The API validates these fields, but manifests,
// old objects and broken servers do not always: a 300-character
// ExternalName would become a name longer than DNS allows, a 70-character
// hostname a label the encoder refuses (SERVFAIL for the whole answer), port
// 70000 a wrong port. Such a value is dropped here, once, with a warning and
// a count: a service with a bad name is left out, a bad ExternalName makes
// the name NXDOMAIN, a bad hostname falls back to the dashed IP, a bad port
// is not published.

import { isValidName } from '../../dns/names.js';
import { log } from '../../log.js';
import type { Kind, PortRecord, ServiceRecord, SliceRecord } from './objects.js';
import { DNS_LABEL } from './store-views.js';

/** A field of an object that the store refused to put on the wire. */
export type InvalidField = 'name' | 'namespace' | 'externalName' | 'hostname' | 'port';

/** Service and namespace names become labels of answers: 1-63 octets, no dot (as the API enforces). */
const NAME_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

const validPort = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;

export class FieldChecker {
  /** "kind/field" -> values dropped so far (clusterdns_kubernetes_invalid_fields_total). */
  private readonly invalid = new Map<string, { kind: Kind; field: InvalidField; count: number }>();

  /** Fields dropped on arrival, per kind and field. */
  counts(): Array<{ kind: Kind; field: InvalidField; count: number }> {
    return [...this.invalid.values()].map((c) => ({ ...c }));
  }

  /** The service with its unusable fields dropped; null when its name cannot be one. */
  service(r: ServiceRecord): ServiceRecord | null {
    if (!NAME_LABEL.test(r.name)) return this.reject('services', r, 'name', r.name);
    if (!NAME_LABEL.test(r.namespace)) return this.reject('services', r, 'namespace', r.namespace);
    let out = r;
    if (r.externalName !== '' && !isValidName(r.externalName)) {
      this.reject('services', r, 'externalName', r.externalName);
      out = { ...out, externalName: '' };
    }
    const ports = this.ports('services', r, r.ports);
    return ports === r.ports ? out : { ...out, ports };
  }

  /** The slice with its unusable ports and hostnames dropped. */
  slice(r: SliceRecord): SliceRecord {
    let out = r;
    const ports = this.ports('endpointslices', r, r.ports);
    if (ports !== r.ports) out = { ...out, ports };
    if (r.endpoints.some((e) => e.hostname !== '' && !DNS_LABEL.test(e.hostname))) {
      out = {
        ...out,
        endpoints: r.endpoints.map((e) => {
          if (e.hostname === '' || DNS_LABEL.test(e.hostname)) return e;
          this.reject('endpointslices', r, 'hostname', e.hostname);
          return { ...e, hostname: '' };
        }),
      };
    }
    return out;
  }

  private ports(kind: Kind, r: { namespace: string; name: string }, ports: PortRecord[]): PortRecord[] {
    if (ports.every((p) => validPort(p.port))) return ports;
    return ports.filter((p) => validPort(p.port) || this.reject(kind, r, 'port', `${p.name || '(unnamed)'}=${p.port}`) !== null);
  }

  private reject(kind: Kind, r: { namespace: string; name: string }, field: InvalidField, value: string): null {
    const k = `${kind}/${field}`;
    const c = this.invalid.get(k);
    if (c === undefined) this.invalid.set(k, { kind, field, count: 1 });
    else c.count++;
    const shown = value.length > 80 ? `${value.slice(0, 80)}... (${value.length} characters)` : value;
    log('warn', 'kubernetes', `invalid ${field} dropped: it cannot go into a DNS answer`, { kind, object: `${r.namespace}/${r.name}`, value: shown });
    return null;
  }
}
