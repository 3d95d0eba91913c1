/**
 * Exponential backoff with "equal jitter": the n-th consecutive failure
 * waits a random time in [d/2, d] where d = min(max, initial * 2^(n-1)).
 * So with the defaults (200 ms, 10 s): 100-200 ms, 200-400, 400-800, ...
 * 5-10 s. `reset()` after a success.
 */
export class Backoff {
  private n = 0;

  constructor(
    readonly initialMs = 200,
    readonly maxMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** Consecutive failures so far. */
  get failures(): number {
    return this.n;
  }

  /** Records a failure and returns how long to wait before the next try. */
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.n, 30));
    this.n++;
    return Math.max(1, Math.round(d / 2 + (this.random() * d) / 2));
  }

  reset(): void {
    this.n = 0;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects; leaves no timer behind). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
