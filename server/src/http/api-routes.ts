/**
 * The `/api/v1` routes (PROTOCOL.md §5), listed once: service-api.ts
 * registers exactly these and openapi.ts documents exactly these, each keyed
 * by `name` (also the `route` label of `scrollback_http_requests_total`), so
 * a route cannot be served undocumented or documented unserved.
 */
export const API_ROUTES = [
  { name: "add", method: "post", path: "/api/v1/users/:userId/messages" },
  { name: "load", method: "get", path: "/api/v1/users/:userId/messages" },
  { name: "clear", method: "delete", path: "/api/v1/users/:userId/messages" },
  { name: "draftAppend", method: "post", path: "/api/v1/users/:userId/drafts/:id" },
  { name: "draftDiscard", method: "delete", path: "/api/v1/users/:userId/drafts/:id" },
  { name: "drafts", method: "get", path: "/api/v1/users/:userId/drafts" },
  { name: "openapi", method: "get", path: "/api/v1/openapi.json" },
] as const;

export type ApiRoute = (typeof API_ROUTES)[number];
export type ApiRouteName = ApiRoute["name"];

/** An express path (`/users/:userId`) in OpenAPI's spelling (`/users/{userId}`). */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, "{$1}");
}
