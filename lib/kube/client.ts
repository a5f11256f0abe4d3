/**
 * The transport: authenticated HTTP requests to the API server with Deno's
 * `fetch`. Where the server is and how to authenticate comes from a
 * {@linkcode Credentials} (the pod's service account from `in_cluster.ts`, or
 * a kubeconfig through client-node from `kubeconfig.ts`); this file has no
 * dependencies of its own. Every call takes an `AbortSignal`; failures become
 * the typed errors of `errors.ts`.
 *
 * @module
 */
import type { AuthMaterial, Credentials } from "./credentials.ts";
import { apiErrorFrom, NetworkError, UnauthorizedError } from "./errors.ts";

/** Observes every request's outcome (for `rest_client_requests_total`). */
export type RequestObserver = (
  info: { method: string; code: string; host: string; durationMs: number },
) => void;

/** Options of one request. */
export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON-serialisable body, or a string sent as is. */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** An authenticated client for one API server. */
export class KubeClient {
  /** The API server URL, without a trailing slash. */
  readonly server: string;
  /** The host:port, the `host` label of request metrics. */
  readonly host: string;
  readonly #credentials: Credentials;
  readonly #observer?: RequestObserver;
  readonly #userAgent: string;
  #clients = new Map<string, Deno.HttpClient>();

  constructor(
    credentials: Credentials,
    options: { observer?: RequestObserver; userAgent?: string } = {},
  ) {
    this.server = credentials.server.replace(/\/+$/, "");
    this.host = new URL(this.server).host;
    this.#credentials = credentials;
    this.#observer = options.observer;
    this.#userAgent = options.userAgent ?? "dbop";
  }

  /** One pooled HTTP client per distinct TLS material, so rotated material gets new connections. */
  #httpClient({ ca, cert, key }: AuthMaterial): Deno.HttpClient {
    const clientKey = `${ca}\u0000${cert}\u0000${key}`;
    let httpClient = this.#clients.get(clientKey);
    if (!httpClient) {
      httpClient = Deno.createHttpClient({
        ...(ca ? { caCerts: [ca] } : {}),
        ...(cert && key ? { cert, key } : {}),
      });
      this.#clients.set(clientKey, httpClient);
    }
    return httpClient;
  }

  /** Builds the full URL of an API path with query parameters. */
  url(path: string, query: RequestOptions["query"] = {}): string {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url.toString();
  }

  /** Sends a request and returns the raw response when it succeeded (2xx). */
  async fetch(path: string, options: RequestOptions = {}): Promise<Response> {
    const method = options.method ?? "GET";
    const started = performance.now();
    let res: Response;
    try {
      res = await this.#send(path, options, method);
      if (res.status === 401) {
        // Credentials may have rotated under us: fetch fresh ones once.
        await res.body?.cancel();
        this.#credentials.invalidate();
        res = await this.#send(path, options, method);
      }
    } catch (error) {
      this.#observe(method, "<error>", started);
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      throw new NetworkError(this.server, error);
    }
    this.#observe(method, String(res.status), started);
    if (res.ok) return res;
    const body = await res.text().catch(() => "");
    const error = apiErrorFrom(res.status, body, res.headers.get("retry-after"));
    if (error instanceof UnauthorizedError) this.#credentials.invalidate();
    throw error;
  }

  async #send(path: string, options: RequestOptions, method: string): Promise<Response> {
    const auth = await this.#credentials.authenticate();
    const headers: Record<string, string> = {
      ...auth.headers,
      "Accept": "application/json",
      "User-Agent": this.#userAgent,
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["Content-Type"] = options.contentType ?? "application/json";
    }
    return await fetch(this.url(path, options.query), {
      method,
      headers,
      body,
      signal: options.signal,
      client: this.#httpClient(auth),
    });
  }

  /** Sends a request and parses the JSON response. */
  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.fetch(path, options);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  #observe(method: string, code: string, started: number): void {
    this.#observer?.({ method, code, host: this.host, durationMs: performance.now() - started });
  }

  /** Releases pooled connections. */
  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
