/** The four cases, each run once per variant with the same settings (bench/README.md describes them). */
import { addCase } from "./add.js";
import { fanoutCase } from "./fanout.js";
import { loadCase } from "./load.js";
import type { ThroughputCase, ThroughputCaseName } from "./throughput.js";

export { runIdle } from "./idle.js";
export { runThroughputCase } from "./throughput.js";

export const THROUGHPUT_CASES: Record<ThroughputCaseName, ThroughputCase> = { add: addCase, fanout: fanoutCase, load: loadCase };
