#!/usr/bin/env node
// The command as built into dist/ (package.json bin: dist/src/cli.js; tests run
// src/cli.ts itself). It turns on Node's on-disk compile cache before the bundle
// is loaded: every start after the first skips parsing its ~1 MB of JavaScript
// (embedded demo, start to first answer: 334 -> 243 ms median, bench/footprint.ts;
// same RSS). The cache is NODE_COMPILE_CACHE's folder, else <tmpdir>/node-compile-cache;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. A folder that cannot be written costs nothing.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('./cli.js');
