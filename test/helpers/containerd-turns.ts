/**
 * The turns of a test containerd's pod creations (containerd.ts runPod): at most `limit` at once, the others queued
 * (a benchmark may fire 250 at once without hitting CRI deadlines); and its stop: close() refuses every creation not
 * started yet and resolves once those under way have settled, so that a pod whose sandbox is created while the
 * harness stops is still removed by it (bench/profile.ts stopped by SIGINT while it creates its pods).
 */

/** A creation refused: the harness is stopping. */
export class HarnessStoppingError extends Error {
  constructor(what: string) {
    super(`${what}: not created, the harness is stopping`);
    this.name = 'HarnessStoppingError';
  }
}

export class CreationTurns {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly underWay = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly limit: number) {}

  /** `create` in its turn; refused (HarnessStoppingError) once closed. `create` calls check() between its steps. */
  run<T>(what: string, create: () => Promise<T>): Promise<T> {
    const run = this.inTurn(what, create);
    this.underWay.add(run);
    const forget = (): void => void this.underWay.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Throws HarnessStoppingError once closed: a creation stops between its steps (what it made is the stop's to remove). */
  check(what: string): void {
    if (this.closed) throw new HarnessStoppingError(what);
  }

  /** No creation starts from now on; resolves once every one under way (or waiting, refused) has settled. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.allSettled([...this.underWay]);
  }

  private async inTurn<T>(what: string, create: () => Promise<T>): Promise<T> {
    this.check(what);
    if (this.running >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.running += 1;
    try {
      this.check(what);
      return await create();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }
}
