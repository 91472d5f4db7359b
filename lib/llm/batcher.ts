interface Pending<J, R> {
  job: J;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers jobs that arrive within `windowMs` of the first one (and share a key) into one batch, run by
 * `runBatch`, which returns one result per job in order. A batch also closes when it reaches `maxSize` jobs.
 * Batches run one at a time (model compute is not concurrent anyway).
 */
export class RequestBatcher<J, R> {
  private readonly open = new Map<string, Pending<J, R>[]>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly runBatch: (jobs: J[]) => Promise<R[]>,
    private readonly options: { windowMs: number; maxSize: number; size?: (job: J) => number },
  ) {}

  /** Batches still gathering jobs (each is dropped from this count when it runs). */
  get openBatches(): number {
    return this.open.size;
  }

  submit(key: string, job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let batch = this.open.get(key);
      if (!batch) {
        batch = [];
        this.open.set(key, batch);
        setTimeout(() => this.close(key, batch!), this.options.windowMs);
      }
      batch.push({ job, resolve, reject });
      const size = this.options.size ?? (() => 1);
      if (batch.reduce((s, p) => s + size(p.job), 0) >= this.options.maxSize) this.close(key, batch);
    });
  }

  private close(key: string, batch: Pending<J, R>[]): void {
    if (this.open.get(key) !== batch) return; // already closed by size
    this.open.delete(key);
    this.queue = this.queue.then(async () => {
      try {
        const results = await this.runBatch(batch.map((p) => p.job));
        batch.forEach((p, i) => p.resolve(results[i]));
      } catch (error) {
        batch.forEach((p) => p.reject(error));
      }
    });
  }
}
