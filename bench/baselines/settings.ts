/** What the baseline servers are given, and what they hand back. */
export interface BaselineSettings {
  redisUrl: string;
  keyPrefix: string;
  historyMax: number;
  historyTtlSeconds: number;
  /** Size of the contents in the window the ceiling answers history:load with. */
  contentBytes: number;
  maxHttpBufferSize: number;
}

export interface BaselineServer {
  port: number;
  close(): Promise<void>;
}
