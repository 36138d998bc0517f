/**
 * One task at a time per key, in arrival order: a key's next task starts
 * once its previous one has settled, or has run for `releaseAfterMs`. Used
 * for the adds that `WAIT` (RedisStore), so that one user's adds wait for
 * replicas one at a time and leave the other wait connections to other users.
 */
export class TurnsPerKey {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * @param releaseAfterMs A task still running this long no longer holds up
   *   the key's next one: its caller has been answered by then (the store's
   *   deadline), and what it waits on (a frozen Redis) is the stall guard's
   *   business, which may then refuse the next one at once.
   */
  constructor(private readonly releaseAfterMs: number) {}

  /** Runs `task` when the key's turn comes, telling it how long it waited in line. */
  async run<T>(key: string, task: (waitedMs: number) => Promise<T>): Promise<T> {
    const arrived = Date.now();
    const previous = this.tails.get(key);
    let release = () => {};
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.tails.set(key, turn);
    let timer: NodeJS.Timeout | undefined;
    try {
      // Without a previous task, run in this very turn of the event loop.
      if (previous) await previous;
      timer = setTimeout(release, this.releaseAfterMs);
      return await task(Date.now() - arrived);
    } finally {
      clearTimeout(timer);
      release();
      if (this.tails.get(key) === turn) this.tails.delete(key);
    }
  }
}
