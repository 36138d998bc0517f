/**
 * One race between a promise and a clock, for every place that must not wait
 * longer than a limit: the store's deadline, /readyz, closing a Redis client,
 * flushing traces at shutdown, the CLI's connect.
 */

export interface TimeoutOptions<T, F> {
  /** How long `work` may take. */
  ms: number;
  /**
   * What the race yields when `ms` pass first: throw to reject with that
   * error, return a value to resolve with it (e.g. to stop waiting quietly).
   */
  onTimeout: () => F;
  /**
   * Called with `work`'s result when it succeeds after the timeout already
   * answered (a store write that landed late is still stored).
   */
  lateSuccess?: (result: T) => void;
}

/**
 * `work`'s outcome, or `onTimeout`'s once `ms` have passed. The timer is
 * cleared once `work` settles first, and a rejection of `work` after the
 * timeout is expected (already answered), never left unhandled.
 *
 * One promise settled by whichever comes first rather than a `Promise.race`
 * inside an async function: every store call goes through here, and those
 * two layers were two more promises per call.
 */
export function withTimeout<T, F = never>(work: Promise<T>, options: TimeoutOptions<T, F>): Promise<T | F> {
  return new Promise<T | F>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        resolve(options.onTimeout());
      } catch (error) {
        reject(error);
      }
    }, options.ms);
    work.then(
      (result) => {
        if (timedOut) {
          options.lateSuccess?.(result);
          return;
        }
        clearTimeout(timer);
        resolve(result);
      },
      (error: unknown) => {
        if (timedOut) return;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
