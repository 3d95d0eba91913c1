// The file plugin's load and lookup cost: parses and indexes a generated zone
// of N names (A + TXT each, so 2N records), then times lookups in a loop.
// Prints figures only; on a shared machine compare runs made back to back.
//
//   node --import tsx bench/file-zone.ts [--names 10000] [--rounds 3]
import { numberFlag } from './lib/args.js';
import { parseZone } from '../src/plugins/file/zone-parse.js';
import { Zone } from '../src/plugins/file/zone.js';

const NAMES = numberFlag('names', 10000);
const ROUNDS = numberFlag('rounds', 3);
const LOOKUPS = 200_000;

let text = '$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns hostmaster 1 7200 3600 1209600 60\n  IN NS ns\nns A 192.0.2.1\n*.wild A 192.0.2.3\n';
for (let i = 0; i < NAMES; i++) text += `host${i} IN A 10.${(i >> 8) & 255}.${i & 255}.1\n     IN TXT "record ${i}"\n`;

const QUERIES = [['hit', `host${NAMES >> 1}.example.org`], ['nxdomain', 'nope.example.org'], ['wildcard', 'a.b.wild.example.org']] as const;

for (let r = 0; r < ROUNDS; r++) {
  let t = performance.now();
  const zone = new Zone('example.org', parseZone(text, 'example.org', 'bench'), 'bench');
  const load = performance.now() - t;
  const per: string[] = [];
  for (const [label, name] of QUERIES) {
    t = performance.now();
    for (let i = 0; i < LOOKUPS; i++) zone.lookup(name, 1);
    per.push(`${label} ${((performance.now() - t) * 1000 / LOOKUPS).toFixed(2)} µs`);
  }
  console.log(`round ${r + 1}: load ${2 * NAMES} records ${load.toFixed(0)} ms; lookup ${per.join(', ')}`);
}
