// A typed Raptor client: openapi-fetch over the types openapi-typescript generates from
// docs/openapi.json (`npm run generate`). In a browser (the SPA) the session cookie travels by
// itself with `credentials: "include"` and the browser sends `Origin`; in Node, which has
// neither a cookie store nor an origin, `nodeSession` plays both parts.

import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/raptor.js";

export type Schemas = components["schemas"];
export type RaptorClient = Client<paths>;

/** The client the SPA uses: every call carries the session cookie. */
export function raptorClient(baseUrl: string): RaptorClient {
  return createClient<paths>({ baseUrl, credentials: "include" });
}

/** Node only: keeps the `session` cookie Raptor sets and sends it back, and sends the `Origin`
 * a browser would (Raptor refuses a state-changing call with a cookie and no allowed origin). */
export function nodeSession(origin: string): Middleware & { signedIn(): boolean } {
  let cookie: string | undefined;
  return {
    onRequest({ request }) {
      if (cookie) request.headers.set("cookie", cookie);
      request.headers.set("origin", origin);
      return request;
    },
    onResponse({ response }) {
      for (const line of response.headers.getSetCookie()) {
        const pair = line.split(";", 1)[0] ?? "";
        if (pair.startsWith("session=")) cookie = pair.length > "session=".length ? pair : undefined;
      }
      return response;
    },
    signedIn() {
      return cookie !== undefined;
    },
  };
}

/** The error every non-2xx answer carries; branch on `code`. */
export class RaptorError extends Error {
  constructor(
    readonly status: number,
    readonly body: Schemas["ErrorBody"] | undefined,
  ) {
    super(`${status} ${body?.error.code ?? "no error body"}: ${body?.error.message ?? ""}`);
  }
}

/** The body of a successful call, or a thrown [`RaptorError`]. */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined && result.response.ok) return result.data;
  throw new RaptorError(result.response.status, result.error as Schemas["ErrorBody"] | undefined);
}
