import { execFile } from 'node:child_process';

export interface CommandResult { code: number; stdout: string; stderr: string }

/**
 * Runs a system tool (ip, iptables) and reports its exit status instead of
 * throwing: callers decide which failures are expected ("File exists").
 * A missing binary is code 127, as a shell would say.
 */
export function runCommand(file: string, args: readonly string[], timeoutMs = 10_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) { resolve({ code: 0, stdout, stderr }); return; }
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      const code = e.code === 'ENOENT' ? 127 : typeof e.code === 'number' ? e.code : 1;
      resolve({ code, stdout: stdout ?? '', stderr: (stderr || e.message).trim() });
    });
  });
}
