/**
 * The HTTP API for backends (PROTOCOL.md §5): the same operations as the
 * Socket.IO events, behind `Authorization: Bearer <SERVICE_TOKEN>`.
 */
import { ERROR_CODES } from "@scrollback/client/protocol";
import { messageIdSchema, userIdSchema } from "@scrollback/client/protocol/schemas";
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from "express";
import type { Logger } from "pino";
import {
  type AppError,
  internal,
  invalidPayload,
  notFound,
  rateLimited,
  toAppError,
  toHttpAnswer,
  tooLarge,
  unauthorized,
} from "../errors.js";
import type { HistoryOperations } from "../history-operations.js";
import type { Metrics } from "../metrics.js";
import { parsePayload } from "../parse-payload.js";
import { API_ROUTES, type ApiRouteName } from "./api-routes.js";
import { exactRouter } from "./exact-router.js";
import { openApiText } from "./openapi.js";
import { bearerToken, secretMatches } from "./token-match.js";
import { UserRate } from "./user-rate.js";

export interface ServiceApiOptions {
  service: HistoryOperations;
  metrics: Metrics;
  logger: Logger;
  serviceToken?: string;
  /** DRAFT_CHUNKS_PER_SECOND: draft chunks per user on this replica (0 or unset: no limit). */
  draftChunksPerSecond?: number;
  /** Largest accepted body, in bytes. */
  bodyLimitBytes: number;
}

function sendError(res: Response, error: AppError): void {
  const { status, body } = toHttpAnswer(error);
  if (body.error.retryAfterMs !== undefined) res.set("Retry-After", String(Math.ceil(body.error.retryAfterMs / 1000)));
  res.status(status).json(body);
}

export function createServiceApiRouter(options: ServiceApiOptions): Router {
  const { service, metrics, serviceToken } = options;
  const router = exactRouter();
  const draftRate = new UserRate(options.draftChunksPerSecond ?? 0);

  router.use("/api/v1", (req, res, next) => {
    // Without a token the API does not exist (404), rather than being open.
    if (!serviceToken) return sendError(res, notFound("the HTTP API is disabled"));
    if (!secretMatches(serviceToken, bearerToken(req.headers.authorization))) {
      res.set("WWW-Authenticate", "Bearer");
      return sendError(res, unauthorized("a valid service token is required"));
    }
    next();
  });

  const json = express.json({ limit: options.bodyLimitBytes, strict: false, type: () => true });

  /** Wraps a route: validated userId, errors as JSON, request counted. */
  const handle =
    (name: ApiRouteName, run: (userId: string, req: Request, res: Response) => Promise<void>) =>
    async (req: Request, res: Response, _next: NextFunction) => {
      try {
        const userId = parsePayload(userIdSchema, req.params.userId);
        await run(userId, req, res);
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code === ERROR_CODES.INTERNAL) options.logger.error({ err: error, route: name }, "request failed");
        sendError(res, appError);
      } finally {
        metrics.httpRequests.inc({ route: name, status: String(res.statusCode) });
      }
    };

  const handlers: Record<ApiRouteName, RequestHandler[]> = {
    add: [
      json,
      handle("add", async (userId, req, res) => {
        const { message, duplicate } = await service.add(userId, req.body);
        res.status(duplicate ? 200 : 201).json({ message, duplicate });
      }),
    ],
    load: [
      handle("load", async (userId, req, res) => {
        const query = readQuery(req);
        if (query.q !== undefined) {
          const messages = await service.search(userId, { query: query.q, limit: query.limit });
          res.json({ messages, gap: false });
        } else {
          const { messages, gap } = await service.load(userId, { limit: query.limit, afterId: query.afterId });
          res.json({ messages, gap });
        }
      }),
    ],
    clear: [
      handle("clear", async (userId, _req, res) => {
        res.json({ removed: await service.clear(userId, {}) });
      }),
    ],
    draftAppend: [
      json,
      handle("draftAppend", async (userId, req, res) => {
        const id = parsePayload(messageIdSchema, req.params.id);
        const waitMs = draftRate.take(userId);
        if (waitMs > 0) throw rateLimited(waitMs);
        const body: unknown = req.body;
        // The path names the draft; an id in the body is ignored, like any field not listed.
        const payload = typeof body === "object" && body !== null && !Array.isArray(body) ? { ...body, id } : body;
        res.json({ draft: await service.appendDraft(userId, payload) });
      }),
    ],
    draftDiscard: [
      handle("draftDiscard", async (userId, req, res) => {
        const id = parsePayload(messageIdSchema, req.params.id);
        if (!(await service.discardDraft(userId, { id }))) throw notFound(`no live draft ${id}`);
        res.json({ discarded: true });
      }),
    ],
    drafts: [
      handle("drafts", async (userId, _req, res) => {
        res.json({ drafts: await service.drafts(userId) });
      }),
    ],
    // Behind the token like every /api/v1 route (PROTOCOL.md §5); docs/openapi.json is the same document.
    openapi: [
      (_req, res) => {
        res.type("json").send(openApiText());
        metrics.httpRequests.inc({ route: "openapi", status: String(res.statusCode) });
      },
    ],
  };
  for (const route of API_ROUTES) router[route.method](route.path, ...handlers[route.name]);

  // Authenticated, but no such route (e.g. a client normalised "/users/../messages"): JSON like every other answer.
  router.use("/api/v1", (_req, res) => sendError(res, notFound("no such route")));

  // Body parser failures: an oversized body (inflated size included) is
  // TOO_LARGE; anything else it refuses (bad JSON, an unsupported charset or
  // Content-Encoding) is a body that is not JSON we can read: INVALID_PAYLOAD.
  const bodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status ?? 500;
    if (status === 413) return sendError(res, tooLarge("body too large"));
    if (status >= 400 && status < 500) return sendError(res, invalidPayload("body: not valid JSON"));
    options.logger.error({ err: error }, "request failed");
    sendError(res, internal());
  };
  router.use("/api/v1", bodyErrors);
  return router;
}

/** Query strings are text; limit becomes a number only when it is one, so zod can name a bad value. */
function readQuery(req: Request): { limit?: unknown; afterId?: unknown; q?: unknown } {
  const { limit, afterId, q } = req.query;
  return { limit: typeof limit === "string" && /^\d+$/.test(limit) ? Number(limit) : limit, afterId, q };
}
