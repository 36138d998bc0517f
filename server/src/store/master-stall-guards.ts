/**
 * One StallGuard per Redis master the store writes to: the one Redis (or the
 * master Sentinel names) behind a plain client, or each master node of a
 * Cluster, found from the slot of the key a command touches. A frozen
 * Cluster master then gets its users refused at once, with nothing sent to
 * run when it wakes, while the other masters' users are not refused.
 */
import calculateSlot from "cluster-key-slot";
import type { Cluster, Redis } from "ioredis";
import { StallGuard } from "./stall-guard.js";

export interface MasterStallGuardsOptions {
  /** Told when some master stops answering (true) and when all answer again (false). */
  onChange?: (stalled: boolean) => void;
  stallAfterMs: number;
}

/** A master as readiness sees it: its address, its guard and a PING to it. */
export interface GuardedMaster {
  /** `host:port` for a Cluster node; empty for a plain client. */
  address: string;
  guard: StallGuard;
  ping(): Promise<unknown>;
}

/** ioredis's name for a Cluster node, as in `Cluster.slots`. */
function nodeAddress(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

export class MasterStallGuards {
  private readonly guards = new Map<string, StallGuard>();
  private readonly stalled = new Set<string>();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly options: MasterStallGuardsOptions,
  ) {}

  /**
   * The guard of the master serving `key`. Undefined on a Cluster whose slots
   * are not known yet (nothing can be sent then anyway: no offline queue).
   */
  forKey(key: string): StallGuard | undefined {
    if (!this.client.isCluster) return this.guard("");
    const address = (this.client as Cluster).slots[calculateSlot(key)]?.[0];
    return address === undefined ? undefined : this.guard(address);
  }

  /** Every master, for readiness: the one behind a plain client, or each Cluster master ioredis knows. */
  masters(): GuardedMaster[] {
    if (!this.client.isCluster) return [{ address: "", guard: this.guard(""), ping: () => this.client.ping() }];
    return (this.client as Cluster).nodes("master").map((node) => {
      const address = nodeAddress(node);
      return { address, guard: this.guard(address), ping: () => node.ping() };
    });
  }

  /** Stops every guard's probing. */
  close(): void {
    for (const guard of this.guards.values()) guard.close();
  }

  private guard(address: string): StallGuard {
    let guard = this.guards.get(address);
    if (!guard) {
      guard = new StallGuard({
        probe: () => this.probe(address),
        onChange: (stalled) => this.noteChange(address, stalled),
        stallAfterMs: this.options.stallAfterMs,
      });
      this.guards.set(address, guard);
    }
    return guard;
  }

  /** PING the master at `address`. A Cluster node no longer a master (failed over) has nothing left to wait for. */
  private async probe(address: string): Promise<unknown> {
    if (!this.client.isCluster) return this.client.ping();
    const node = (this.client as Cluster).nodes("master").find((candidate) => nodeAddress(candidate) === address);
    return node?.ping();
  }

  private noteChange(address: string, stalled: boolean): void {
    const before = this.stalled.size > 0;
    if (stalled) this.stalled.add(address);
    else this.stalled.delete(address);
    const after = this.stalled.size > 0;
    if (before !== after) this.options.onChange?.(after);
  }
}
