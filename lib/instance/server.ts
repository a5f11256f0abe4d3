/**
 * The instance's HTTP endpoint on the pod IP: `GET /status` answers the
 * {@linkcode InstanceStatus} and `POST /restart` asks for a fast restart of
 * PostgreSQL in its role (202; 409 when it does not run; the caller watches
 * `postmasterStartTime` change) and `POST /passwords` takes a credential
 * Secret's new password before the Secret holds it (`{"secret", "password"}`;
 * 204 once PostgreSQL has it, 409 when this is not a running primary), all to
 * a caller presenting the cluster's status token as a bearer token (the one
 * its Secret holds now, `status_token.ts`), refusing everyone else with 401
 * (the comparison takes the same time whatever the token); unauthenticated,
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
  /** Applies the password of credential Secret `secret` before the Secret holds it. */
  handOver(secret: string, password: string): Promise<HandOverOutcome>;
}

/** What a handed-over password came to. */
export type HandOverOutcome =
  | { applied: true }
  | { applied: false; status: 409 | 422 | 500; reason: string };

/** The method each path answers; the authenticated ones need the token. */
const ROUTES: Record<string, { method: string; authenticated: boolean }> = {
  "/healthz": { method: "GET", authenticated: false },
  "/readyz": { method: "GET", authenticated: false },
  "/status": { method: "GET", authenticated: true },
  "/restart": { method: "POST", authenticated: true },
  "/passwords": { method: "POST", authenticated: true },
};

async function handOver(source: StatusSource, request: Request): Promise<Response> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return new Response("Expected JSON\n", { status: 400 });
  }
  const { secret, password } = (body ?? {}) as Record<string, unknown>;
  if (typeof secret !== "string" || typeof password !== "string" || password === "") {
    return new Response('Expected {"secret": string, "password": string}\n', { status: 400 });
  }
  const outcome = await source.handOver(secret, password);
  return outcome.applied
    ? new Response(null, { status: 204 })
    : new Response(`${outcome.reason}\n`, { status: outcome.status });
}

/**
 * The endpoint's request handler; `token` gives the token to accept at each request
 * (undefined: none, so every authenticated path answers 401).
 */
export function statusHandler(
  source: StatusSource,
  token: () => string | undefined,
): Deno.ServeHandler {
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
    const accepted = route.authenticated ? token() : undefined;
    if (route.authenticated && (accepted === undefined || !await authorized(request, accepted))) {
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
      case "/passwords":
        return await handOver(source, request);
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
  options: {
    hostname: string;
    port: number;
    token: () => string | undefined;
    signal: AbortSignal;
  },
): Deno.HttpServer {
  return Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: options.signal,
    onListen: () => {},
  }, statusHandler(source, options.token));
}
