/**
 * The instance's HTTP endpoint on the pod IP: `GET /status` answers the
 * {@linkcode InstanceStatus} and `POST /restart` asks for a fast restart of
 * PostgreSQL in its role (202; 409 when it does not run; the caller watches
 * `postmasterStartTime` change), both to a caller presenting the cluster's
 * status token as a bearer token, refusing everyone else with 401 (the
 * comparison takes the same time whatever the token); unauthenticated,
 * `GET /readyz` says only whether PostgreSQL accepts connections (the
 * readiness probe) and `GET /healthz` that the manager answers (liveness).
 *
 * @module
 */
import type { InstanceStatus } from "../api/mod.ts";

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * Whether the request carries `Authorization: Bearer <token>`. Compares SHA-256 digests,
 * which have one length, byte by byte without stopping early: no timing tells how much of
 * a guess matched. (Web Crypto rather than node:crypto, which costs the pod ~5 MiB of RSS.)
 */
export async function authorized(request: Request, token: string): Promise<boolean> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer (.+)$/.exec(header);
  if (match === null) return false;
  const [given, expected] = await Promise.all([digest(match[1]), digest(token)]);
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= given[i] ^ expected[i];
  return difference === 0;
}

/** What the endpoint serves. */
export interface StatusSource {
  status(): Promise<InstanceStatus>;
  ready(): boolean;
  /** Asks for a restart; false when PostgreSQL does not run. */
  restart(): boolean;
}

/** The method each path answers; the authenticated ones need the token. */
const ROUTES: Record<string, { method: string; authenticated: boolean }> = {
  "/healthz": { method: "GET", authenticated: false },
  "/readyz": { method: "GET", authenticated: false },
  "/status": { method: "GET", authenticated: true },
  "/restart": { method: "POST", authenticated: true },
};

/** The endpoint's request handler. */
export function statusHandler(source: StatusSource, token: string): Deno.ServeHandler {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (!Object.hasOwn(ROUTES, pathname)) return new Response("Not found\n", { status: 404 });
    const route = ROUTES[pathname];
    if (request.method !== route.method) {
      return new Response("Method not allowed\n", {
        status: 405,
        headers: { allow: route.method },
      });
    }
    if (route.authenticated && !await authorized(request, token)) {
      return new Response("Unauthorized\n", {
        status: 401,
        headers: { "www-authenticate": "Bearer" },
      });
    }
    switch (pathname) {
      case "/healthz":
        return new Response("ok\n");
      case "/readyz":
        return source.ready()
          ? new Response("ok\n")
          : new Response("PostgreSQL does not accept connections\n", { status: 503 });
      case "/restart":
        return source.restart()
          ? new Response("Restarting\n", { status: 202 })
          : new Response("PostgreSQL does not run\n", { status: 409 });
      default:
        return Response.json(await source.status());
    }
  };
}

/** Serves the endpoint on `hostname:port` until `signal` aborts. */
export function serveStatus(
  source: StatusSource,
  options: { hostname: string; port: number; token: string; signal: AbortSignal },
): Deno.HttpServer {
  return Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: options.signal,
    onListen: () => {},
  }, statusHandler(source, options.token));
}
