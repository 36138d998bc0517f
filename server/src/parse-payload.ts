/** Validation at the edge: what a client sent, parsed with the protocol's zod schema. */
import type { z } from "zod";
import { invalidPayload } from "./errors.js";

/** Parses `payload` with `schema`, or throws INVALID_PAYLOAD naming the field. */
export function parsePayload<S extends z.ZodType>(schema: S, payload: unknown): z.output<S> {
  const result = schema.safeParse(payload);
  if (!result.success) throw invalidPayload(result.error);
  return result.data;
}
