import { configError } from '../../corefile/errors.js';
import { expectArgs } from '../../corefile/options.js';
import { checkTlsContext, readTlsFile } from '../../corefile/tls-files.js';
import { walkOptions, type OptionTable } from '../../corefile/walk.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { CLIENT_AUTH, type ClientAuth, type ServerTls } from '../../server/tls-listener.js';

const isClientAuth = (s: string): s is ClientAuth => (CLIENT_AUTH as readonly string[]).includes(s);

const TLS_OPTIONS: OptionTable<ServerTls> = {
  client_auth: {
    args: [1, 1], usage: `client_auth ${CLIENT_AUTH.join('|')}`,
    apply(t, o) {
      const mode = o.args[0] ?? '';
      if (!isClientAuth(mode)) throw configError(o, `tls: unknown client_auth "${mode}"; accepted: ${CLIENT_AUTH.join(', ')}`);
      t.clientAuth = mode;
    },
  },
};

/**
 * `tls CERT KEY [CA] { client_auth MODE }`: the certificates of the block's
 * tls:// listeners. Not in the query path; the server reads `serverTls`
 * when it groups listeners. In a block without tls:// keys it does nothing,
 * as in CoreDNS.
 */
export const tlsPlugin: PluginDefinition = {
  name: 'tls',
  setup(d) {
    expectArgs(d, 2, 3, 'tls CERT KEY [CA]');
    const [cert = '', key = '', ca] = d.args;
    const t: ServerTls = {
      cert: readTlsFile(cert, d, 'tls', 'certificate'),
      key: readTlsFile(key, d, 'tls', 'key'),
      ...(ca !== undefined ? { ca: readTlsFile(ca, d, 'tls', 'CA') } : {}),
      clientAuth: 'nocert',
    };
    checkTlsContext({ cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}) }, d, 'tls');
    walkOptions(d, 'tls', TLS_OPTIONS, t);
    return { name: 'tls', serverTls: t };
  },
};
