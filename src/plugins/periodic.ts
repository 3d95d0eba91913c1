/**
 * A check run every `ms` while started: the file-backed plugins (hosts,
 * file) re-read their file with it. Unref'd, so it never holds the process
 * open; `ms` 0 means never (`reload 0`).
 */
export class Periodic {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ms: number, private readonly run: () => Promise<void>) {}

  start(): void {
    if (this.ms <= 0 || this.timer !== null) return;
    this.timer = setInterval(() => { void this.run(); }, this.ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
