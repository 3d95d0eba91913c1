import { RCODE } from '../../src/dns/constants.js';
import { records, reusable, type Reply, type RR } from '../../src/dns/reply.js';
import type { PluginDefinition, Request } from '../../src/server/plugin.js';

/**
 * `answer N`: a test-only plugin. For `big.<zone>` it returns N A records
 * (to exercise truncation), for `slow.<zone>` it answers after 50 ms (async
 * path), for `throw.<zone>` it throws, for `reuse.<zone>` it hands out one
 * frozen reusable reply per name, otherwise one A record 192.0.2.1.
 */
export const answerPlugin: PluginDefinition = {
  name: 'answer',
  setup(d) {
    const n = Number(d.args[0] ?? '1');
    const shared = new Map<string, Reply>();
    return {
      name: 'answer',
      serve(req: Request) {
        const first = req.lname.split('.')[0];
        if (first === 'throw') throw new Error('test plugin failure');
        if (first === 'nx') return records(RCODE.NXDOMAIN, 'answer', true);
        if (first === 'reuse') {
          let r = shared.get(req.lname);
          if (!r) {
            // Frozen: the server must keep its encoding of the reply to itself, never write it onto the plugin's object.
            r = Object.freeze(reusable(RCODE.NOERROR, 'answer', true, [{ name: req.lname, type: 'A', ttl: 60, data: '192.0.2.9' }]));
            shared.set(req.lname, r);
          }
          return r;
        }
        const count = first === 'big' ? n : 1;
        const answer: RR[] = [];
        for (let i = 0; i < count; i++) {
          answer.push({ name: req.name, type: 'A', ttl: 60, data: `192.0.2.${(i % 250) + 1}` });
        }
        const r = records(RCODE.NOERROR, 'answer', true, answer);
        if (first === 'slow') return new Promise((resolve) => setTimeout(() => resolve(r), 50));
        return r;
      },
    };
  },
};
