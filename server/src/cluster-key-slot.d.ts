/** Types for cluster-key-slot, the CRC16 that ioredis routes keys with (it ships none). */
declare module "cluster-key-slot" {
  /** The Redis Cluster slot (0–16383) of a key or channel, honouring `{hash tags}`. */
  export default function calculateSlot(key: string | Buffer): number;
}
