/** The throughput cases, each run for every variant it takes with the same settings (bench/README.md describes them; idle and scale have their own files, and inbox and drafts run scrollback only). */
import { addCase } from "./add.js";
import { fanoutCase } from "./fanout.js";
import { loadCase } from "./load.js";
import type { ThroughputCase, ThroughputCaseName } from "./throughput.js";

export { type DraftsResult, formatDrafts, runDrafts } from "./drafts.js";
export { runIdle } from "./idle.js";
export { formatInbox, type InboxResult, runInbox } from "./inbox.js";
export { runThroughputCase } from "./throughput.js";

export const THROUGHPUT_CASES: Record<ThroughputCaseName, ThroughputCase> = { add: addCase, fanout: fanoutCase, load: loadCase };
