/**
 * A token bucket (one per user per replica, see user-slots.ts): `perSecond` tokens a second, at most `burst`
 * saved up. Each client event takes one token.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  /** `initialTokens` (default: `burst`) is what the bucket starts with. */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
    initialTokens = burst,
  ) {
    this.tokens = initialTokens;
    this.updatedAt = now();
  }

  /** Takes a token; returns 0 when granted, else the milliseconds until one is available. */
  take(): number {
    if (this.perSecond <= 0) return 0;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
}
