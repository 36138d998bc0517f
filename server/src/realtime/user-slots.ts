/**
 * A user's connections on this replica: at most `maxPerUser` of them, all
 * drawing on one token bucket. With a bucket per connection, N connections
 * would get N times the rate limit; with one per user, opening more
 * connections buys nothing. The bucket outlives the user's last connection
 * until it would have refilled to the full burst, so closing and reopening
 * connections buys nothing either; only then is it dropped, which keeps the
 * buckets held bounded by the users active in the last refill time.
 */
import { TokenBucket } from "./rate-limiter.js";

/** One connection's hold on its user's slots. */
export interface Slot {
  /** The user's shared event budget. */
  readonly bucket: TokenBucket;
  /** Gives the slot back; calling it again does nothing. */
  release(): void;
}

export interface UserSlotsOptions {
  maxPerUser: number;
  rateLimit: { perSecond: number; burst: number };
  /** Tokens a user's new bucket starts with (the burst unless, say, the user was just thrown out for flooding). */
  initialTokens?: (userId: string) => number;
  now?: () => number;
}

interface ConnectedUser {
  connections: number;
  bucket: TokenBucket;
}

export class UserSlots {
  private readonly connected = new Map<string, ConnectedUser>();
  /** Buckets of users with no connection left, in the order they became idle, with when that was. */
  private readonly idle = new Map<string, { bucket: TokenBucket; since: number }>();

  constructor(private readonly options: UserSlotsOptions) {}

  /** A slot for one more connection of `userId`, or undefined when the user already has `maxPerUser`. */
  acquire(userId: string): Slot | undefined {
    const { maxPerUser, rateLimit, initialTokens } = this.options;
    this.dropRefilled();
    let user = this.connected.get(userId);
    if (user && user.connections >= maxPerUser) return undefined;
    if (!user) {
      const tokens = initialTokens?.(userId) ?? rateLimit.burst;
      const kept = this.idle.get(userId)?.bucket;
      this.idle.delete(userId);
      // A penalty (fewer initial tokens than the burst) overrides what the kept bucket holds.
      const bucket = kept && tokens >= rateLimit.burst ? kept : new TokenBucket(rateLimit.perSecond, rateLimit.burst, this.now, tokens);
      user = { connections: 0, bucket };
      this.connected.set(userId, user);
    }
    user.connections++;
    const held = user;
    let released = false;
    return {
      bucket: held.bucket,
      release: () => {
        if (released) return;
        released = true;
        held.connections--;
        if (held.connections > 0 || this.connected.get(userId) !== held) return;
        this.connected.delete(userId);
        // With the limit off (perSecond 0) a bucket never refills: nothing to keep.
        if (this.options.rateLimit.perSecond > 0) this.idle.set(userId, { bucket: held.bucket, since: this.now() });
        this.dropRefilled();
      },
    };
  }

  /** Connections `userId` holds here. */
  connectionsOf(userId: string): number {
    return this.connected.get(userId)?.connections ?? 0;
  }

  /** Buckets held, of connected users and of idle ones not yet refilled (bounded, see the module comment). */
  bucketsHeld(): number {
    this.dropRefilled();
    return this.connected.size + this.idle.size;
  }

  private readonly now = () => (this.options.now ?? Date.now)();

  /**
   * Drops idle buckets that have refilled to the burst: any bucket is full
   * `burst / perSecond` seconds after it was last used, and the idle map is
   * in order of `since`, so only its front needs looking at.
   */
  private dropRefilled(): void {
    const { perSecond, burst } = this.options.rateLimit;
    const refillMs = (burst / perSecond) * 1000;
    const now = this.now();
    for (const [userId, { since }] of this.idle) {
      if (now - since < refillMs) break;
      this.idle.delete(userId);
    }
  }
}
