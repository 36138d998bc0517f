/**
 * The OpenAPI 3.1 description of the HTTP API (PROTOCOL.md §5), built from
 * the protocol's zod schemas and the one route table (api-routes.ts). Served
 * at `GET /api/v1/openapi.json` and kept in docs/openapi.json by
 * `npm run openapi`; test/unit/openapi-document.test.ts fails when the two differ.
 */
import { type Draft, type DraftState, ERROR_CODES, type HttpErrorCode, type Message } from "@scrollback/client/protocol";
import {
  addMessageSchema,
  draftAppendSchema,
  limitSchema,
  META_MAX_KEYS,
  messageIdSchema,
  metaSchema,
  roleSchema,
  searchHistorySchema,
  userIdSchema,
} from "@scrollback/client/protocol/schemas";
import { z } from "zod";
import { HTTP_STATUS } from "../errors.js";
import { API_ROUTES, type ApiRouteName, openApiPath } from "./api-routes.js";

type JsonObject = Record<string, unknown>;

const metaValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** The answers' shapes, typed against the protocol's types so they cannot drift from what the server sends. */
export const API_ANSWERS = {
  message: z.object({
    id: messageIdSchema,
    userId: userIdSchema,
    role: roleSchema,
    content: z.string(),
    timestamp: z.string().nullable(),
    meta: z.record(z.string(), metaValueSchema).optional(),
  }) satisfies z.ZodType<Message>,
  draft: z.object({
    id: messageIdSchema,
    role: roleSchema,
    content: z.string(),
    seq: z.number().int().min(1),
    updatedAt: z.number(),
  }) satisfies z.ZodType<Draft>,
  draftState: z.object({
    id: messageIdSchema,
    seq: z.number().int().min(1),
    length: z.number().int().min(1),
  }) satisfies z.ZodType<DraftState>,
  health: z.object({ status: z.literal("ok") }),
  ready: z.object({
    store: z.enum(["redis", "memory"]),
    /** Present while the store refuses adds for lack of memory (STORE_FULL); reads and clears still work. */
    full: z.literal(true).optional(),
  }),
};
const added = z.object({ message: API_ANSWERS.message, duplicate: z.boolean() });
const history = z.object({ messages: z.array(API_ANSWERS.message), gap: z.boolean() });
const cleared = z.object({ removed: z.number().int().min(0) });
const draftAppended = z.object({ draft: API_ANSWERS.draftState });
const draftDiscarded = z.object({ discarded: z.literal(true) });
const draftList = z.object({ drafts: z.array(API_ANSWERS.draft) });
/** The HTTP body of a draft chunk: `draft:append` without the id, which the path gives. */
const draftChunkBody = draftAppendSchema.omit({ id: true });
/** The success answer of each /api/v1 route, for tests to check real answers against. */
export const ROUTE_ANSWERS: Record<ApiRouteName, z.ZodType> = {
  add: added,
  load: history,
  clear: cleared,
  draftAppend: draftAppended,
  draftDiscard: draftDiscarded,
  drafts: draftList,
  openapi: z.record(z.string(), z.unknown()),
};
const errorBody = (codes: readonly HttpErrorCode[]) =>
  z.object({ code: z.enum(codes as [HttpErrorCode, ...HttpErrorCode[]]), message: z.string() });

/** metaSchema's custom input check and the schemas it refines (each a `parent` that zod converts too). */
const META_INPUT = new Set<unknown>();
for (let schema: z.core.$ZodType | undefined = metaSchema.in; schema; schema = schema._zod.parent) META_INPUT.add(schema);

/**
 * JSON Schema (2020-12, OpenAPI 3.1's dialect) of `schema`. `meta` is checked
 * by a custom refinement that JSON Schema cannot express: its input is
 * described as what it becomes, a flat object of at most META_MAX_KEYS keys.
 */
function jsonSchema(schema: z.ZodType, io: "input" | "output" = "output"): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: (ctx) => {
      if (!META_INPUT.has(ctx.zodSchema)) return "throw";
      return { ...jsonSchema(metaSchema, "output"), maxProperties: META_MAX_KEYS };
    },
  });
  return rest;
}

/** Requests and answers of the /api/v1 routes that clients can copy. */
const EXAMPLES = {
  reply: { id: "01JDQ3W7K5V8Z9X0ABCDEFGHJK", role: "assistant", content: "Your report is due on Friday.", meta: { model: "demo" } },
  userId: "team_lead_001",
  limit: 15,
  afterId: "01JDQ3W7K5V8Z9X0ABCDEFGHJK",
  q: "report",
  draftId: "01JDQ3W7K5V8Z9X0ABCDEFGHJM",
  chunk: { chunk: "Your report is ", role: "assistant" },
  draft: { id: "01JDQ3W7K5V8Z9X0ABCDEFGHJM", role: "assistant", content: "Your report is ", seq: 1, updatedAt: 1780306200000 },
  stored: {
    id: "01JDQ3W7K5V8Z9X0ABCDEFGHJK",
    userId: "team_lead_001",
    role: "assistant",
    content: "Your report is due on Friday.",
    timestamp: "2026-06-01T09:30:00.000Z",
    meta: { model: "demo" },
  },
};

const json = (schema: JsonObject, example?: unknown) => ({ "application/json": example === undefined ? { schema } : { schema, example } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The error answer of each code, under components.responses: `{ error: { code, message } }` with that code. */
function errorResponse(code: HttpErrorCode): JsonObject {
  const answer: JsonObject = {
    description: `\`${code}\` (PROTOCOL.md §5)`,
    content: json(jsonSchema(z.object({ error: errorBody([code]) }))),
  };
  if (code === ERROR_CODES.UNAUTHORIZED) answer.headers = { "WWW-Authenticate": { schema: { type: "string", const: "Bearer" } } };
  return answer;
}

/** An operation's error answers, by status; codes sharing a status (409) are described together. */
function errorResponses(codes: readonly HttpErrorCode[]): JsonObject {
  const byStatus = new Map<number, HttpErrorCode[]>();
  for (const code of codes) byStatus.set(HTTP_STATUS[code], [...(byStatus.get(HTTP_STATUS[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, shared]) => [
      String(status),
      shared.length === 1
        ? { $ref: `#/components/responses/${shared[0]}` }
        : {
            description: `${shared.map((code) => `\`${code}\``).join(" or ")} (PROTOCOL.md §5)`,
            content: json(jsonSchema(z.object({ error: errorBody(shared) }))),
          },
    ]),
  );
}

/** What every /api/v1 route can answer besides its own answers. */
const API_ERRORS: readonly HttpErrorCode[] = [ERROR_CODES.UNAUTHORIZED, ERROR_CODES.NOT_FOUND, ERROR_CODES.INTERNAL];

const userIdParameter = {
  name: "userId",
  in: "path",
  required: true,
  description: "The user whose history this is (URL-decoded).",
  schema: jsonSchema(userIdSchema),
  example: EXAMPLES.userId,
};

const draftIdParameter = {
  name: "id",
  in: "path",
  required: true,
  description: "The draft's id: the id its final message will be stored under.",
  schema: jsonSchema(messageIdSchema),
  example: EXAMPLES.draftId,
};

const OPERATIONS: Record<ApiRouteName, JsonObject> = {
  add: {
    operationId: "addMessage",
    summary: "Add a message to a user's history",
    description:
      "Like `message:add` (PROTOCOL.md §4): stores the message and sends `message:new` to all the user's connections. " +
      "`id` is the idempotency key: a retry with the same id answers 200 with the kept message and `duplicate: true`. " +
      "The body is read as JSON whatever its Content-Type; at most 1e6 bytes after inflating, `content` at most MAX_MESSAGE_BYTES and `meta` at most MAX_META_BYTES (413 beyond). " +
      "With the inbox on, a message entering it beyond INBOX_USER_PER_MINUTE for that user is refused with 429 RATE_LIMITED (`Retry-After`), nothing stored.",
    parameters: [userIdParameter],
    requestBody: { required: true, content: json(ref("AddMessage"), EXAMPLES.reply) },
    responses: {
      "201": { description: "Stored", content: json(ref("AddAnswer"), { message: EXAMPLES.stored, duplicate: false }) },
      "200": {
        description: "A message with this id was already kept: nothing stored (`duplicate: true`)",
        content: json(ref("AddAnswer"), { message: EXAMPLES.stored, duplicate: true }),
      },
      ...errorResponses([
        ERROR_CODES.INVALID_PAYLOAD,
        ERROR_CODES.TOO_LARGE,
        ERROR_CODES.RATE_LIMITED,
        ERROR_CODES.UNAVAILABLE,
        ERROR_CODES.STORE_FULL,
        ...API_ERRORS,
      ]),
    },
  },
  load: {
    operationId: "loadHistory",
    summary: "Read or search a user's history",
    description:
      "Without `q`, like `history:load`: the newest `limit` messages, oldest first, or those after `afterId` (`gap: true` when some were missed or `afterId` is not kept). " +
      "With `q`, like `history:search`: case-insensitive substring matches, `gap: false`, `afterId` ignored. A parameter given twice is 400; others are ignored.",
    parameters: [
      userIdParameter,
      {
        name: "limit",
        in: "query",
        description: "How many messages, at most (digits only).",
        schema: jsonSchema(limitSchema),
        example: EXAMPLES.limit,
      },
      {
        name: "afterId",
        in: "query",
        description: "Only messages after this one.",
        schema: jsonSchema(messageIdSchema),
        example: EXAMPLES.afterId,
      },
      {
        name: "q",
        in: "query",
        description: "Search for this text instead of loading.",
        schema: jsonSchema(searchHistorySchema.shape.query),
        example: EXAMPLES.q,
      },
    ],
    responses: {
      "200": { description: "The messages, oldest first", content: json(ref("History"), { messages: [EXAMPLES.stored], gap: false }) },
      ...errorResponses([ERROR_CODES.INVALID_PAYLOAD, ERROR_CODES.UNAVAILABLE, ...API_ERRORS]),
    },
  },
  clear: {
    operationId: "clearHistory",
    summary: "Delete a user's history",
    description:
      "Like `history:clear`: deletes every kept message and sends `history:cleared` to all the user's connections. Any body is ignored.",
    parameters: [userIdParameter],
    responses: {
      "200": { description: "How many messages were deleted", content: json(ref("Cleared"), { removed: 1 }) },
      ...errorResponses([ERROR_CODES.INVALID_PAYLOAD, ERROR_CODES.UNAVAILABLE, ...API_ERRORS]),
    },
  },
  draftAppend: {
    operationId: "appendDraft",
    summary: "Stream one more chunk of a reply",
    description:
      "Like `draft:append` (PROTOCOL.md §4, Drafts): appends `chunk` to the draft stored under `id` (creating it, with `role`, default `assistant`) and sends `draft:update` to all the user's connections. " +
      "Store the finished reply with `POST …/messages` and the same `id`: it replaces the draft everywhere. " +
      "409 DRAFT_CLOSED once that message is kept, 409 TOO_MANY_DRAFTS beyond MAX_DRAFTS_PER_USER live drafts, 413 when the draft would exceed MAX_MESSAGE_BYTES, 429 beyond DRAFT_CHUNKS_PER_SECOND chunks per user (`Retry-After`), 507 STORE_FULL when Redis is out of memory.",
    parameters: [userIdParameter, draftIdParameter],
    requestBody: { required: true, content: json(ref("DraftChunk"), EXAMPLES.chunk) },
    responses: {
      "200": { description: "Appended", content: json(ref("DraftAppended"), { draft: { id: EXAMPLES.draftId, seq: 1, length: 15 } }) },
      ...errorResponses([
        ERROR_CODES.INVALID_PAYLOAD,
        ERROR_CODES.DRAFT_CLOSED,
        ERROR_CODES.TOO_MANY_DRAFTS,
        ERROR_CODES.TOO_LARGE,
        ERROR_CODES.RATE_LIMITED,
        ERROR_CODES.UNAVAILABLE,
        ERROR_CODES.STORE_FULL,
        ...API_ERRORS,
      ]),
    },
  },
  draftDiscard: {
    operationId: "discardDraft",
    summary: "Abandon a reply",
    description:
      "Like `draft:discard`: deletes the draft and sends `draft:discarded` to all the user's connections. 404 NOT_FOUND when there is no live draft under `id`. Any body is ignored.",
    parameters: [userIdParameter, draftIdParameter],
    responses: {
      "200": { description: "Discarded", content: json(ref("DraftDiscarded"), { discarded: true }) },
      ...errorResponses([ERROR_CODES.INVALID_PAYLOAD, ERROR_CODES.UNAVAILABLE, ...API_ERRORS]),
    },
  },
  drafts: {
    operationId: "listDrafts",
    summary: "The replies being streamed",
    description:
      "The user's live drafts (not idle past DRAFT_IDLE_MS), as `history:load` returns them beside the window, oldest update first.",
    parameters: [userIdParameter],
    responses: {
      "200": { description: "The live drafts", content: json(ref("Drafts"), { drafts: [EXAMPLES.draft] }) },
      ...errorResponses([ERROR_CODES.INVALID_PAYLOAD, ERROR_CODES.UNAVAILABLE, ...API_ERRORS]),
    },
  },
  openapi: {
    operationId: "getOpenApiDocument",
    summary: "This document",
    description: "Behind the token like every /api/v1 route; docs/openapi.json in the repository is the same document.",
    responses: {
      "200": { description: "The OpenAPI 3.1 document", content: json({ type: "object" }) },
      ...errorResponses(API_ERRORS),
    },
  },
};

/** /healthz and /readyz: no token. */
const HEALTH_PATHS = {
  "/healthz": {
    get: {
      operationId: "health",
      summary: "Liveness: 200 while the process serves",
      security: [],
      responses: { "200": { description: "Alive", content: json(jsonSchema(API_ANSWERS.health)) } },
    },
  },
  "/readyz": {
    get: {
      operationId: "ready",
      summary: "Readiness: the store answers a ping within 1 s (with Redis Cluster: every master does)",
      security: [],
      responses: {
        "200": { description: "Ready", content: json(jsonSchema(API_ANSWERS.ready)) },
        "503": {
          description: "The store did not answer; the message names the Cluster master that did not",
          content: json(jsonSchema(API_ANSWERS.ready.extend({ error: errorBody([ERROR_CODES.UNAVAILABLE]) }))),
        },
      },
    },
  },
};

function buildDocument(): JsonObject {
  const paths: Record<string, JsonObject> = { ...HEALTH_PATHS };
  for (const route of API_ROUTES) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: OPERATIONS[route.name] };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "scrollback HTTP API",
      version: "1",
      description:
        "The HTTP API for application backends (docs/PROTOCOL.md §5): the operations of the Socket.IO events, behind `Authorization: Bearer <SERVICE_TOKEN>`. " +
        "Without SERVICE_TOKEN every /api/v1 path answers 404. Every error answers `{ error: { code, message } }`; a refused request changes nothing.",
      license: { name: "MIT", identifier: "MIT" },
    },
    security: [{ serviceToken: [] }],
    paths,
    components: {
      responses: Object.fromEntries(Object.keys(HTTP_STATUS).map((code) => [code, errorResponse(code as HttpErrorCode)])),
      securitySchemes: { serviceToken: { type: "http", scheme: "bearer", description: "The server's SERVICE_TOKEN" } },
      schemas: {
        AddMessage: jsonSchema(addMessageSchema, "input"),
        Message: jsonSchema(API_ANSWERS.message),
        AddAnswer: { ...jsonSchema(added), properties: { message: ref("Message"), duplicate: { type: "boolean" } } },
        History: { ...jsonSchema(history), properties: { messages: { type: "array", items: ref("Message") }, gap: { type: "boolean" } } },
        Cleared: jsonSchema(cleared),
        DraftChunk: jsonSchema(draftChunkBody, "input"),
        Draft: jsonSchema(API_ANSWERS.draft),
        DraftAppended: jsonSchema(draftAppended),
        DraftDiscarded: jsonSchema(draftDiscarded),
        Drafts: { ...jsonSchema(draftList), properties: { drafts: { type: "array", items: ref("Draft") } } },
      },
    },
  };
}

let document: JsonObject | undefined;
let text: string | undefined;

/** The document (built once: it depends on no setting). */
export function openApiDocument(): JsonObject {
  document ??= buildDocument();
  return document;
}

/** The document as docs/openapi.json holds it and the server sends it. */
export function openApiText(): string {
  text ??= `${JSON.stringify(openApiDocument(), null, 2)}\n`;
  return text;
}
