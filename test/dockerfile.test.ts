// No Docker engine runs here: this checks the Dockerfile's structure so it
// cannot rot silently (stages, what each copies and runs, the user, the
// entrypoint, the capability), against the repository it builds. What the
// capability does at run time is tested in test/capability.test.ts.

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
      if (ins.op === 'ARG') {
        const [k, v] = ins.args.split('=');
        args.set(k!, (v ?? '').replace(/\$\{(\w+)\}/g, (_, a: string) => args.get(a) ?? ''));
      }
    } else {
      list.at(-1)!.body.push(ins);
    }
  }
  return { args, stages: list };
}

describe('Dockerfile', () => {
  const text = readFileSync('Dockerfile', 'utf8');
  const all = instructions(text);
  const { args, stages: st } = stages(all);
  const final = st.at(-1)!;
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; license: string; bin: Record<string, string>; scripts: Record<string, string> };
  const runs = (s: Stage) => s.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  const copiesFrom = (s: Stage, what: RegExp) => s.body.find((i) => i.op === 'COPY' && /--from=/.test(i.args) && what.test(i.args));
  const stageNamed = (n: string) => st.find((s) => s.name === n)!;

  it('builds on Node 24 LTS pinned to one release, with dev dependencies only in the build stage', () => {
    expect(args.get('NODE_VERSION')).to.match(/^24\.\d+\.\d+$/, 'an exact Node 24 release, not a floating tag');
    const nodeStages = st.filter((s) => s !== final);
    expect(nodeStages.length).to.be.at.least(3);
    for (const s of nodeStages) expect(s.base, `stage ${s.name}`).to.match(new RegExp(`^node:${args.get('NODE_VERSION')!.replace(/\./g, '\\.')}-\\w+-slim(@sha256:[0-9a-f]{64})?$`));
    const build = st.find((s) => /npm ci(?![^\n]*--omit=dev)/.test(runs(s)) && /npm run build|tsc/.test(runs(s)));
    expect(build, 'a stage installs all dependencies and compiles').to.not.equal(undefined);
    // Production node_modules come from an `npm ci --omit=dev` stage.
    const nm = copiesFrom(final, /node_modules/)!;
    expect(runs(stageNamed(/--from=(\S+)/.exec(nm.args)![1]!))).to.match(/npm ci[^\n]*--omit=dev/);
    // package.json's "prepare" compiles with tsc (a dev dependency): every npm ci must skip scripts.
    if (pkg.scripts.prepare) for (const s of st) for (const r of runs(s).split('\n')) if (/npm ci/.test(r)) expect(r).to.contain('--ignore-scripts');
  });

  it('runs on a minimal base: no shell, no package manager, nothing run in the final stage', () => {
    expect(final.base).to.match(/^gcr\.io\/distroless\/(cc|base|static)-debian\d+(:nonroot)?(@sha256:[0-9a-f]{64})?$/);
    expect(final.body.filter((i) => i.op === 'RUN'), 'distroless has no shell to RUN with').to.deep.equal([]);
    for (const i of final.body.filter((x) => x.op === 'ENTRYPOINT' || x.op === 'CMD' || x.op === 'HEALTHCHECK')) {
      expect(i.args, `${i.op} in exec form (no shell)`).to.match(/(^|CMD )\[/);
    }
  });

  it('copies only files that exist, from stages defined before', () => {
    const names: string[] = [];
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
    const excluded = (src: string) => ignored.some((pat) => pat === src.replace(/\/$/, '') || (pat.startsWith('*') && src.endsWith(pat.slice(1))));
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
        for (const src of srcs) expect(excluded(src), `${src} is in .dockerignore`).to.equal(false);
      }
      if (s.name) names.push(s.name);
    }
    const ignore = readFileSync('.dockerignore', 'utf8');
    for (const p of ['node_modules', 'dist', '.git']) expect(ignore.split('\n')).to.include(p);
  });

  it('gives node cap_net_bind_service as a file capability and runs it as a numeric non-root user', () => {
    const nodeCopy = final.body.find((i) => i.op === 'COPY' && /\s\/usr\/local\/bin\/node$/.test(i.args))!;
    expect(nodeCopy, 'node is copied into the runtime').to.not.equal(undefined);
    const from = stageNamed(/--from=(\S+)/.exec(nodeCopy.args)![1]!);
    const src = nodeCopy.args.split(/\s+/).filter((w) => !w.startsWith('--'))[0]!;
    expect(runs(from)).to.match(new RegExp(`setcap cap_net_bind_service=\\+ep ${src.replace(/\//g, '\\/')}(\\s|$)`));
    expect(runs(from)).to.match(/getcap/, 'the build fails if the capability did not stick');
    const users = final.body.filter((i) => i.op === 'USER');
    const user = users.at(-1)!.args.split(':')[0]!;
    expect(user).to.match(/^\d+$/, 'numeric, so runAsNonRoot can verify it');
    expect(Number(user)).to.be.above(0);
    expect(final.body.find((i) => i.op === 'EXPOSE')?.args).to.contain('53/udp');
    const hc = final.body.find((i) => i.op === 'HEALTHCHECK')!;
    expect(hc.args).to.contain(`:${HEALTH_DEFAULT_PORT}/health`);
    expect(hc.args).to.contain('"/usr/local/bin/node"');
  });

  it("ENTRYPOINT runs package.json's bin with node, CMD is CoreDNS's args", () => {
    const entry = JSON.parse(final.body.filter((i) => i.op === 'ENTRYPOINT').at(-1)!.args) as string[];
    const cmd = JSON.parse(final.body.filter((i) => i.op === 'CMD').at(-1)!.args) as string[];
    const workdir = final.body.find((i) => i.op === 'WORKDIR')!.args;
    expect(entry).to.deep.equal(['/usr/local/bin/node', `${workdir}/${pkg.bin.clusterdns!.replace(/^\.\//, '')}`]);
    // kubeadm's Deployment passes these as args; the CLI accepts CoreDNS's single-dash spelling.
    expect(cmd).to.deep.equal(['-conf', '/etc/coredns/Corefile']);
    expect(copiesFrom(final, /\S*dist\s+\.\/dist/)).to.not.equal(undefined);
    expect(final.body.some((i) => i.op === 'COPY' && /^package\.json\b/.test(i.args)), 'package.json beside dist ("type": "module", the version)').to.equal(true);
  });

  it('carries OCI labels, the version being package.json\'s', () => {
    const labels = final.body.filter((i) => i.op === 'LABEL').map((i) => i.args).join(' ');
    const found = new Map([...labels.matchAll(/([\w.]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    for (const k of ['title', 'description', 'version', 'revision', 'licenses', 'source']) expect(found.has(`org.opencontainers.image.${k}`), k).to.equal(true);
    expect(found.get('org.opencontainers.image.licenses')).to.equal(pkg.license);
    expect(found.get('org.opencontainers.image.version')).to.equal('${VERSION}');
    const versionArg = final.body.find((i) => i.op === 'ARG' && i.args.startsWith('VERSION='))!;
    expect(versionArg.args).to.equal(`VERSION=${pkg.version}`, 'bump the Dockerfile with package.json');
    expect(existsSync('LICENSE')).to.equal(true);
  });
});
