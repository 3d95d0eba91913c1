import { queryBytes } from '../test/support/dns.js';
import { startCorefile } from '../test/support/server.js';
const srv = await startCorefile(`cluster.local in-addr.arpa {
    kubernetes cluster.local in-addr.arpa {
        manifests config/cluster
    }
}
`);
const q = queryBytes('web.demo.svc.cluster.local', 'A', { id: 1 });
for (let i = 0; i < 3_000_000; i++) srv.server.inject(q);
await srv.stop();
