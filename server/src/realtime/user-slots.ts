/**
 * A user's connections on this replica: at most `maxPerUser` of them, all
 * drawing on one token bucket. With a bucket per connection, N connections
 * would get N times the rate limit; with one per user, opening more
 * connections buys nothing. The bucket lives while the user has a
 * connection here and is dropped with the last one.
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

export class UserSlots {
  private readonly users = new Map<string, { connections: number; bucket: TokenBucket }>();

  constructor(private readonly options: UserSlotsOptions) {}

  /** A slot for one more connection of `userId`, or undefined when the user already has `maxPerUser`. */
  acquire(userId: string): Slot | undefined {
    const { maxPerUser, rateLimit, initialTokens, now = Date.now } = this.options;
    let user = this.users.get(userId);
    if (user && user.connections >= maxPerUser) return undefined;
    if (!user) {
      const tokens = initialTokens?.(userId) ?? rateLimit.burst;
      user = { connections: 0, bucket: new TokenBucket(rateLimit.perSecond, rateLimit.burst, now, tokens) };
      this.users.set(userId, user);
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
        if (held.connections === 0 && this.users.get(userId) === held) this.users.delete(userId);
      },
    };
  }

  /** Connections `userId` holds here. */
  connectionsOf(userId: string): number {
    return this.users.get(userId)?.connections ?? 0;
  }
}
