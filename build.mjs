// npm run build: dist/src/cli.js (the `bin` and `npm start`) as one
// tree-shaken ESM bundle with our code and dependencies, plus chunks that
// load only on demand: the Kubernetes client (src/plugins/kubernetes/client.ts,
// imported when an API source starts) gets a chunk of its own holding just
// KubeConfig and Watch and what they need, not client-node's whole generated
// API (about half the RSS of importing the package). Type checking is tsc's
// job (npm test, the build script's first step); esbuild only strips types.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outbase: '.',
  outdir: 'dist',
  chunkNames: 'src/chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Syntax only: names and lines stay as written for stack traces and CPU
  // profiles (bench/profile.ts); what saves memory is the tree-shaking.
  minifySyntax: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies (prom-client, dns-packet, ...) call require() for
  // Node's built-ins; an ESM bundle has no require of its own.
  banner: { js: "import { createRequire as __clusterdnsRequire } from 'node:module'; const require = __clusterdnsRequire(import.meta.url);" },
});
