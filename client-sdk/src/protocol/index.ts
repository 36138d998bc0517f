/** The wire contract of scrollback protocol v1: events, errors, ids. */
export * from "./errors.js";
export * from "./events.js";
export * from "./ids.js";
