/** What the scale case measures (cases/scale.ts): how cost grows with connections, replicas and the window. */
import type { RunVariant } from "./results.js";

/** One step of the idle ramp on one replica. */
export interface IdlePoint {
  variant: RunVariant;
  connections: number;
  /** Connections opened in this step per second of the step. */
  connectPerSecond: number;
  /** (RSS now − RSS before the first step) / connections, after two GCs. */
  rssBytesPerConnection: number;
  heapBytesPerConnection: number;
  /** Acks/s and delivery latency of the few active users (a sender and a receiver each) at this point. */
  activeAcksPerSecond?: number;
  activeAckP99Ms?: number | null;
  deliveryP99Ms?: number | null;
}

/** One point of the fan-out over `replicas` replicas. */
export interface ReplicaPoint {
  variant: RunVariant;
  replicas: number;
  addsPerSecond: number;
  /** All replicas' CPU per add, and that divided by the replicas. */
  serverCpuMicrosPerAdd: number;
  serverCpuMicrosPerAddPerReplica: number;
  redisCpuMicrosPerAdd: number;
  deliveriesPerSecond?: number;
  deliveryP99Ms?: number | null;
}

/** One window size, one event. */
export interface HistoryPoint {
  variant: RunVariant;
  event: "message:add" | "history:load";
  historyMax: number;
  perSecond: number;
  serverCpuMicros: number;
  redisCpuMicros: number;
  p99Ms: number | null;
}

export interface ScaleResult {
  idle: IdlePoint[];
  /** Where the idle ramp stopped and why (the server's open-file limit). */
  idleLimit: { connections: number; reason: string };
  replicas: ReplicaPoint[];
  history: HistoryPoint[];
  /** The SVG files written. */
  charts: string[];
}
