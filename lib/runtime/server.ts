/**
 * The operator's HTTP endpoints on `Deno.serve`: `/healthz` (the process is
 * alive), `/readyz` (every informer cache has synced) and `/metrics`
 * (Prometheus text format from the operator's registry). Addresses use the
 * controller-runtime form `host:port` or `:port`; `0` disables an endpoint.
 *
 * @module
 */
import type { Registry } from "prom-client";

/** A running endpoint server. */
export interface EndpointServer {
  /** The port actually bound (differs from the requested one for port 0). */
  port: number;
  /** Stops accepting connections and waits for the server to finish. */
  shutdown(): Promise<void>;
}

/** Parses `host:port` or `:port` (all interfaces); `"0"` means disabled and yields undefined. */
export function parseBindAddress(address: string): { hostname: string; port: number } | undefined {
  if (address === "0") return undefined;
  const colon = address.lastIndexOf(":");
  const host = colon >= 0 ? address.slice(0, colon) : "";
  const port = Number(colon >= 0 ? address.slice(colon + 1) : address);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Invalid bind address "${address}": expected "host:port", ":port" or "0"`);
  }
  return { hostname: host.replace(/^\[|\]$/g, "") || "0.0.0.0", port };
}

function serve(
  address: string,
  handler: (req: Request) => Response | Promise<Response>,
): EndpointServer | undefined {
  const bind = parseBindAddress(address);
  if (!bind) return undefined;
  const server = Deno.serve({ ...bind, onListen: () => {} }, handler);
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}

/** Serves `/healthz` and `/readyz`; `ready()` decides readiness, `live()` liveness. */
export function serveHealth(
  address: string,
  checks: { ready: () => { ok: boolean; detail: string }; live?: () => boolean },
): EndpointServer | undefined {
  return serve(address, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz" || path === "/livez") {
      const ok = checks.live?.() ?? true;
      return new Response(ok ? "ok\n" : "not alive\n", { status: ok ? 200 : 500 });
    }
    if (path === "/readyz") {
      const { ok, detail } = checks.ready();
      return new Response(`${detail}\n`, { status: ok ? 200 : 503 });
    }
    return new Response("not found\n", { status: 404 });
  });
}

/** Serves `/metrics` from `registry`. */
export function serveMetrics(address: string, registry: Registry): EndpointServer | undefined {
  return serve(address, async (req) => {
    if (new URL(req.url).pathname !== "/metrics") {
      return new Response("not found\n", { status: 404 });
    }
    return new Response(await registry.metrics(), {
      headers: { "Content-Type": registry.contentType },
    });
  });
}
