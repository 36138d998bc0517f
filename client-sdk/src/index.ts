/** @scrollback/client — the protocol types for now; the client arrives with the SDK. */
export * from "./protocol/index.js";
