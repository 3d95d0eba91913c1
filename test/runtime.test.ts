// The project pins its runtime: Node.js 24 from the `node` dev dependency,
// which npm scripts and npx put first on PATH, whatever node the machine has.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };

describe('runtime', () => {
  it('the tests run on Node 24 (mocha runs them in a child of process.execPath)', () => {
    expect(process.versions.node.split('.')[0]).to.equal('24');
    expect(pkg.engines.node).to.equal('>=24');
    expect(pkg.devDependencies.node).to.match(/^\^24\./);
  });

  it('`node` on PATH, as the tests and scripts spawn it, is Node 24 too', () => {
    const v = execFileSync('node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    expect(v.split('.')[0]).to.equal('24');
    // A spawn of process.execPath (the CLI tests) is the same binary.
    expect(execFileSync(process.execPath, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()).to.equal(process.versions.node);
  });
});
