import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are at index 11 and 12 after the comm field.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : 0;
}

/** Starts a server pinned to a core; resolves once `ready` (a substring of its output) is seen. */
export function startPinned(core: string, cmd: string, args: string[], ready: string | null, timeoutMs = 30_000): Promise<ChildProcess> {
  const child = spawn('taskset', ['-c', core, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} not ready in ${timeoutMs} ms:\n${out.slice(-2000)}`)); }, timeoutMs);
    const check = (d: Buffer): void => {
      out += d.toString();
      if (out.length > 100_000) out = out.slice(-50_000);
      if (ready !== null && out.includes(ready)) { clearTimeout(t); resolve(child); }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`${cmd} exited ${code}:\n${out.slice(-2000)}`)); });
    if (ready === null) setTimeout(() => { clearTimeout(t); resolve(child); }, 500);
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await done;
  clearTimeout(t);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
