// Every configuration problem is reported as file:line: reason, so the user
// can jump straight to the offending line.

export class CorefileError extends Error {
  readonly file: string;
  readonly line: number;
  readonly reason: string;

  /** line 0 means "no particular line" (e.g. the file cannot be read). */
  constructor(file: string, line: number, reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
    this.name = 'CorefileError';
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

export function configError(at: { file: string; line: number }, reason: string): CorefileError {
  return new CorefileError(at.file, at.line, reason);
}
