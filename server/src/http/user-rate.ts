/**
 * A token bucket per user for an HTTP route that the rest of the HTTP API
 * does not have: draft chunks (DRAFT_CHUNKS_PER_SECOND, PROTOCOL.md §5), so
 * that a runaway backend cannot flood a user's tabs. One second's worth of
 * tokens may be saved up. Per replica, like the Socket.IO limit.
 */
import { TokenBucket } from "../realtime/rate-limiter.js";

/** Buckets idle this long have refilled completely and are forgotten. */
const FORGET_AFTER_MS = 10_000;
/** Sweep when this many users have a bucket. */
const SWEEP_AT = 10_000;

export class UserRate {
  private readonly buckets = new Map<string, { bucket: TokenBucket; usedAt: number }>();
  private readonly burst: number;

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
    if (this.buckets.size >= SWEEP_AT) {
      for (const [user, entry] of this.buckets) if (now - entry.usedAt > FORGET_AFTER_MS) this.buckets.delete(user);
    }
    let entry = this.buckets.get(userId);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.perSecond, this.burst, this.now), usedAt: now };
      this.buckets.set(userId, entry);
    }
    entry.usedAt = now;
    return entry.bucket.take();
  }
}
