// npm run build: dist/src/cli.js (the `bin` and `npm start`) as one
// tree-shaken ESM bundle with our code and dependencies, plus chunks that
// load only on demand. Type checking is tsc's job (npm test, the build
// script's first step); esbuild only strips types.
//
// Two things keep the footprint down (bench/footprint.ts measures them):
// - Node's built-in modules are loaded with require(), not ESM import. An ESM
//   import of a built-in reads every export once to build the namespace, and on
//   Node 24 some exports are getters with a price: `http.WebSocket` loads
//   Node's internal undici (~13 MB RSS), `tls.rootCertificates` parses every
//   root certificate. require() hands over the object and nothing is read
//   until our code reads it.
// - The Kubernetes client (src/plugins/kubernetes/client.ts, imported when an
//   API source starts) gets a chunk of its own holding client-node's KubeConfig
//   and what our calls on it reach. Its module also imports the fetch
//   transport (the undici package: Agent, ProxyAgent) and the generated API
//   client (createConfiguration, ServerConfiguration) for methods we never call
//   (createDispatcher, makeApiClient); those two imports are replaced by
//   classes that throw, which cuts the chunk from 2.5 MB to 0.4 MB and its RSS
//   by about 15 MB. test/build.test.ts runs the built server against the test
//   API server over HTTPS with a client certificate and a bearer token.
//
// BUILD_OUTDIR moves the output (tests build into a temporary folder).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';

const outdir = process.env.BUILD_OUTDIR ?? 'dist';

/** Every `node:x` / `x` built-in becomes `module.exports = require('x')`, read lazily by esbuild's interop. */
const builtinsViaRequire = {
  name: 'builtins-via-require',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (a) => {
      if (!isBuiltin(a.path)) return undefined;
      if (a.namespace === 'builtin') return { path: a.path, external: true };
      return { path: a.path, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({ contents: `module.exports = require(${JSON.stringify(a.path)});`, loader: 'js' }));
  },
};

/** What client-node's config.js imports for code paths clusterdns does not take, and what stands in for it. */
const NOT_BUNDLED = {
  undici: ['Agent', 'ProxyAgent'],
  './gen/index.js': ['createConfiguration', 'ServerConfiguration'],
};

const kubeconfigOnly = {
  name: 'kubeconfig-only',
  setup(b) {
    b.onResolve({ filter: /^(undici|\.\/gen\/index\.js)$/ }, (a) =>
      /@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/.test(a.importer) ? { path: a.path, namespace: 'not-bundled' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'not-bundled' }, (a) => {
      const names = NOT_BUNDLED[a.path] ?? [];
      const body = names.map((n) => `export function ${n}() { throw new Error(${JSON.stringify(`${a.path} ${n} is not in clusterdns's build: clusterdns uses client-node's KubeConfig with node:https requests only`)}); }`);
      return { contents: body.join('\n'), loader: 'js' };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  // dist/src/cli.js is src/launch.ts (the compile cache on), which imports src/cli.ts's chunk.
  entryPoints: [{ in: 'src/launch.ts', out: 'src/cli' }],
  outbase: '.',
  outdir,
  chunkNames: 'src/chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Syntax only: names and lines stay as written for stack traces and CPU
  // profiles (bench/profile.ts); what saves memory is the tree-shaking.
  minifySyntax: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [builtinsViaRequire, kubeconfigOnly],
  // CommonJS dependencies (dns-packet, js-yaml, ...) and the plugin above
  // call require() for Node's built-ins; an ESM bundle has no require of its own.
  banner: { js: "import { createRequire as __clusterdnsRequire } from 'node:module'; const require = __clusterdnsRequire(import.meta.url);" },
});
