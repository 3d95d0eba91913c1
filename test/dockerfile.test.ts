// No Docker engine runs here: this checks the Dockerfile's structure so it
// cannot rot silently (stages, what each copies and runs, the user, the
// entrypoint), against the repository it builds.

import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { HEALTH_DEFAULT_PORT } from '../src/plugins/health/setup.js';

interface Instruction { op: string; args: string; line: number }
interface Stage { base: string; name: string | null; body: Instruction[] }

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (buf === '' && (line === '' || line.startsWith('#'))) return;
    if (buf === '') start = i + 1;
    if (line.startsWith('#')) return;
    if (line.endsWith('\\')) { buf += `${line.slice(0, -1)} `; return; }
    buf += line;
    const m = /^(\S+)\s*(.*)$/.exec(buf)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  });
  return out;
}

function stages(all: Instruction[]): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const list: Stage[] = [];
  for (const ins of all) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const base = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args.get(a ?? b) ?? '');
      list.push({ base, name: m[2] ?? null, body: [] });
    } else if (list.length === 0) {
      if (ins.op === 'ARG') { const [k, v] = ins.args.split('='); args.set(k!, v ?? ''); }
    } else {
      list.at(-1)!.body.push(ins);
    }
  }
  return { args, stages: list };
}

describe('Dockerfile', () => {
  const text = readFileSync('Dockerfile', 'utf8');
  const all = instructions(text);
  const { stages: st } = stages(all);
  const final = st.at(-1)!;
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string>; engines: { node: string } };
  const runs = (s: Stage) => s.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');

  it('builds in a stage with dev dependencies and ships a slim Node LTS with production ones', () => {
    expect(st.length).to.be.at.least(2);
    const build = st.find((s) => /npm ci(?![^\n]*--omit=dev)/.test(runs(s)) && /npm run build|tsc/.test(runs(s)));
    expect(build, 'a stage installs all dependencies and compiles').to.not.equal(undefined);
    expect(build).to.not.equal(final);
    for (const s of st) {
      const m = /^node:(\d+)[-.\w]*-slim$/.exec(s.base);
      expect(m, `stage ${s.name}: ${s.base}`).to.not.equal(null);
      expect(Number(m![1]) % 2, 'an LTS (even) major').to.equal(0);
      expect(Number(m![1])).to.be.at.least(Number(/(\d+)/.exec(pkg.engines.node)![1]));
    }
    // Production node_modules come from an `npm ci --omit=dev` stage.
    const nm = final.body.find((i) => i.op === 'COPY' && /node_modules/.test(i.args))!;
    const from = /--from=(\S+)/.exec(nm.args)![1]!;
    expect(runs(st.find((s) => s.name === from)!)).to.match(/npm ci[^\n]*--omit=dev/);
    // package.json's "prepare" compiles with tsc (a dev dependency): every npm ci must skip scripts.
    if (pkg.scripts.prepare) for (const s of st) for (const r of runs(s).split('\n')) if (/npm ci/.test(r)) expect(r).to.contain('--ignore-scripts');
    expect(runs(final)).to.not.match(/npm (ci|install)/, 'nothing installed in the final stage');
  });

  it('copies only files that exist, from stages defined before', () => {
    const names: string[] = [];
    for (const s of st) {
      for (const i of s.body.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
        const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
        const srcs = words.slice(0, -1);
        const from = /--from=(\S+)/.exec(i.args)?.[1];
        if (from) {
          expect(names, `COPY --from=${from} at line ${i.line}`).to.include(from);
          continue;
        }
        for (const src of srcs) expect(existsSync(src), `COPY ${src} at line ${i.line}`).to.equal(true);
        // Nothing copied may be excluded by .dockerignore.
        const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
        for (const src of srcs) expect(ignored.includes(src.replace(/\/$/, '')), `${src} is in .dockerignore`).to.equal(false);
      }
      if (s.name) names.push(s.name);
    }
    const ignore = readFileSync('.dockerignore', 'utf8');
    for (const p of ['node_modules', 'dist', '.git']) expect(ignore.split('\n')).to.include(p);
  });

  it('runs as a non-root user, documents how port 53 is bound, and checks /health', () => {
    const users = final.body.filter((i) => i.op === 'USER');
    expect(users).to.have.length.at.least(1);
    const user = users.at(-1)!.args.split(':')[0]!;
    expect(user).to.match(/^\d+$/, 'numeric, so runAsNonRoot can verify it');
    expect(Number(user)).to.be.above(0);
    expect(text).to.contain('net.ipv4.ip_unprivileged_port_start=0');
    expect(final.body.find((i) => i.op === 'EXPOSE')?.args).to.contain('53/udp');
    const hc = final.body.find((i) => i.op === 'HEALTHCHECK')!;
    expect(hc.args).to.contain(`:${HEALTH_DEFAULT_PORT}/health`);
  });

  it('ENTRYPOINT clusterdns, on PATH as package.json\'s bin, CMD the CoreDNS ConfigMap path', () => {
    const entry = final.body.filter((i) => i.op === 'ENTRYPOINT').at(-1)!;
    const cmd = final.body.filter((i) => i.op === 'CMD').at(-1)!;
    expect(JSON.parse(entry.args)).to.deep.equal(['clusterdns']);
    expect(JSON.parse(cmd.args)).to.deep.equal(['--conf', '/etc/coredns/Corefile']);
    // The symlink points at the compiled bin of package.json, inside the copied dist/.
    const bin = pkg.bin.clusterdns!;
    expect(runs(final)).to.match(new RegExp(`ln -s\\s+/app/${bin.replace(/\./g, '\\.')}\\s+/usr/local/bin/clusterdns`));
    const workdir = final.body.find((i) => i.op === 'WORKDIR')!.args;
    expect(workdir).to.equal('/app');
    expect(final.body.some((i) => i.op === 'COPY' && /--from=\S+\s+\S*dist\s+\.\/dist/.test(i.args))).to.equal(true);
    expect(final.body.some((i) => i.op === 'COPY' && /^package\.json\b/.test(i.args)), 'package.json beside dist ("type": "module")').to.equal(true);
    expect(readFileSync('src/cli.ts', 'utf8').startsWith('#!/usr/bin/env node')).to.equal(true);
  });
});
