/**
 * A token bucket per user for an HTTP route that the rest of the HTTP API
 * does not have: draft chunks (DRAFT_CHUNKS_PER_SECOND, PROTOCOL.md §5), so
 * that a runaway backend cannot flood a user's tabs. One second's worth of
 * tokens may be saved up. Per replica, like the Socket.IO limit.
 */
import { TokenBucket } from "../realtime/rate-limiter.js";

/** Buckets idle this long have refilled completely and are forgotten. */
const FORGET_AFTER_MS = 10_000;
/** Sweep only once this many users have a bucket. */
const SWEEP_AT = 10_000;

export class UserRate {
  private readonly buckets = new Map<string, { bucket: TokenBucket; usedAt: number }>();
  private readonly burst: number;
  /**
   * A sweep visits every bucket, so it runs at most once per FORGET_AFTER_MS,
   * or sooner once the map has doubled since the last one (whatever the
   * clock does): each sweep is paid for by a FORGET_AFTER_MS of takes or by
   * at least half as many new users as it visits, and the map never holds more than
   * SWEEP_AT buckets or twice the users active in the FORGET_AFTER_MS before
   * the last sweep.
   */
  private sweptAt = Number.NEGATIVE_INFINITY;
  private sweepAtSize = SWEEP_AT;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = Math.max(1, Math.ceil(perSecond));
  }

  /** Takes a token of `userId`'s; 0 when granted, else the milliseconds until one is there. */
  take(userId: string): number {
    if (this.perSecond <= 0) return 0;
    const now = this.now();
    const size = this.buckets.size;
    if (size >= this.sweepAtSize || (size >= SWEEP_AT && now - this.sweptAt >= FORGET_AFTER_MS)) this.sweep(now);
    let entry = this.buckets.get(userId);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.perSecond, this.burst, this.now), usedAt: now };
      this.buckets.set(userId, entry);
    }
    entry.usedAt = now;
    return entry.bucket.take();
  }

  private sweep(now: number): void {
    for (const [user, entry] of this.buckets) if (now - entry.usedAt > FORGET_AFTER_MS) this.buckets.delete(user);
    this.sweptAt = now;
    this.sweepAtSize = Math.max(SWEEP_AT, 2 * this.buckets.size);
  }
}
