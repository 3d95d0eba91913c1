// A private network + mount namespace (`unshare -rnm`) for tests that need
// addresses beyond loopback, interfaces or iptables: nothing done inside
// reaches the host. /etc is an overlay whose writes land in a temporary
// directory (so a program may write /etc/Corefile or /etc/resolv.conf as in
// a pod), and /tmp is a fresh tmpfs.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface NsProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves the exit code (null if killed by a signal). */
  exited: Promise<number | null>;
}

/** Why namespaces can't be used here, or null if they can. */
export function netnsUnavailable(tools: readonly string[] = []): string | null {
  const probe = spawnSync('unshare', ['-rnm', '--propagation', 'private', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `unshare: ${probe.error.message}`;
  if (probe.status !== 0) return `unshare -rnm failed: ${probe.stderr.trim()}`;
  for (const t of ['nsenter', 'ip', ...tools]) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `${t} is not installed`;
  }
  return null;
}

export class NetNs {
  readonly dir: string;
  private holder: ChildProcess | null = null;
  private readonly procs: NsProcess[] = [];

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'clusterdns-netns-'));
    for (const d of ['etc-up', 'etc-work', 'etc-up/.netns-tmp']) mkdirSync(join(this.dir, d));
  }

  /** Puts a file under /etc as seen inside the namespace (before or after start). */
  writeEtc(path: string, text: string): void {
    const p = join(this.dir, 'etc-up', path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }

  async start(): Promise<void> {
    const up = join(this.dir, 'etc-up');
    const work = join(this.dir, 'etc-work');
    const script = `set -e
ip link set lo up
mount -t overlay overlay -o lowerdir=/etc,upperdir=${up},workdir=${work} /etc
# A checkout under /tmp (and the node it runs) must stay visible under the fresh tmpfs.
cwd=${JSON.stringify(process.cwd())}
case "$cwd" in /tmp/*) mount --bind "$cwd" /mnt; keep=1;; *) keep=0;; esac
mount -t tmpfs tmpfs /tmp
if [ "$keep" = 1 ]; then mkdir -p "$cwd" && mount --bind /mnt "$cwd"; fi
echo ready
exec sleep 900`;
    const holder = spawn('unshare', ['-rnm', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.holder = holder;
    let out = '';
    holder.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    holder.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    for (let i = 0; i < 100 && !out.includes('ready'); i++) {
      if (holder.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!out.includes('ready')) throw new Error(`namespace did not start: ${out}`);
  }

  private enter(): string[] {
    return ['-t', String(this.holder!.pid), '-U', '-m', '-n', `--wd=${process.cwd()}`];
  }

  /** Runs a command inside and waits for it. */
  run(cmd: readonly string[], timeoutMs = 15_000): { code: number | null; out: string; stdout: string } {
    const r = spawnSync('nsenter', [...this.enter(), ...cmd], { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
  }

  /** Starts a long-running command inside (nsenter execs it: the child's pid is the program's). */
  spawn(cmd: readonly string[], env: Record<string, string> = {}): NsProcess {
    // tsx keeps its compile cache under TMPDIR: one shared by every process of the namespace, not /tmp's empty tmpfs.
    env = { TMPDIR: '/etc/.netns-tmp', ...env };
    const child = spawn('nsenter', [...this.enter(), 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const p = { child, output: () => out, exited };
    this.procs.push(p);
    return p;
  }

  async stop(): Promise<void> {
    for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => p.exited));
    if (this.holder && this.holder.exitCode === null) {
      const gone = new Promise((r) => this.holder!.on('exit', r));
      this.holder.kill('SIGKILL');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls until cond() holds or ms pass; returns whether it held. */
export async function until(cond: () => boolean, ms: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
