/**
 * PostgreSQL connections for the fault tools (the writer and the sampler):
 * postgres.js (`npm:postgres`), in the test process, one connection per
 * client (see `oneSocket`), nothing retried behind the caller's back.
 * Chosen over a long-lived `psql` fed on stdin by measured CPU
 * (`deno task bench:pgclient`, 3 runs on 2 loaded cores): an insert costs
 * about the same, 0.15 to 0.16 ms of the test process with postgres.js
 * against 0.12 to 0.15 ms plus 0.05 to 0.08 ms in psql; a connection costs
 * 6 ms against 13 to 16 ms for a `psql` process, and connections are what a
 * fault multiplies (the clients reconnect every 50 ms while it lasts).
 * It also reports a failure's severity and SQLSTATE, which psql would only
 * print: {@linkcode isRejected} tells a statement that did not commit (the
 * server's ERROR) from one whose outcome is unknown.
 *
 * @module
 */
import net from "node:net";
import postgres from "postgres";
import type { Clock } from "../../lib/runtime/clock.ts";
import type { Connection } from "./psql.ts";

/** One connection to one server. */
export type Client = postgres.Sql;

/** Options of {@linkcode connect}. */
export interface ClientOptions {
  /** Shown in `pg_stat_activity`. */
  applicationName: string;
  connectTimeoutMs: number;
  /** Run-time parameters set at connection start (`statement_timeout`, ...). */
  parameters?: Record<string, string>;
}

function sslOption(sslmode: string | undefined): false | "prefer" | "require" {
  switch (sslmode ?? "disable") {
    case "disable":
      return false;
    case "prefer":
    case "require":
      return sslmode as "prefer" | "require";
    default:
      throw new Error(`Unsupported sslmode "${sslmode}": use "disable", "prefer" or "require"`);
  }
}

/**
 * The one TCP connection a client may open. postgres.js reconnects at once, in a loop,
 * when a socket closes before the startup completes (as the emulated kube-proxy closes a
 * connection to a Service without endpoints): a second socket is refused instead, so the
 * caller sees the failure and chooses when to retry.
 */
function oneSocket(host: string, port: number, timeoutMs: number): () => Promise<net.Socket> {
  let opened = false;
  return () => {
    if (opened) {
      return Promise.reject(
        Object.assign(new Error(`Connection to ${host}:${port} closed before startup`), {
          code: "CONNECTION_CLOSED",
        }),
      );
    }
    opened = true;
    return new Promise((resolve, reject) => {
      const socket = new net.Socket();
      socket.setTimeout(timeoutMs, () => {
        socket.destroy(Object.assign(new Error(`Connect timeout`), { code: "CONNECT_TIMEOUT" }));
      });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.setTimeout(0);
        socket.removeListener("error", reject);
        resolve(socket);
      });
      socket.connect(port, host);
    });
  };
}

/** A client of `connection` that opens its one connection with the first query. */
export function connect(connection: Connection, options: ClientOptions): Client {
  // `socket` is documented (README, "Custom socket") but missing from the type definitions.
  const settings: Partial<postgres.Options<Record<string, never>>> & { socket: unknown } = {
    socket: oneSocket(connection.host, connection.port, options.connectTimeoutMs),
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password: connection.password,
    database: connection.dbname,
    ssl: sslOption(connection.sslmode),
    max: 1,
    connect_timeout: options.connectTimeoutMs / 1000,
    max_lifetime: null,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: options.applicationName, ...options.parameters },
  };
  return postgres(settings);
}

/** Drops the connection at once, whatever it was doing. */
export function close(client: Client): Promise<void> {
  return client.end({ timeout: 0 }).catch(() => {});
}

/** Whether the server answered with an ERROR: the statement, and its transaction, did not commit. */
export function isRejected(error: unknown): boolean {
  return error instanceof postgres.PostgresError && error.severity === "ERROR";
}

/** A PostgreSQL error's SQLSTATE, or undefined for other errors. */
export function sqlState(error: unknown): string | undefined {
  return error instanceof postgres.PostgresError ? error.code : undefined;
}

/** The error a call of {@linkcode withTimeout} rejects with when time is up. */
export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`No answer within ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/** `promise`, or a {@linkcode TimeoutError} after `ms` on `clock`, whichever comes first. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<T> {
  let timer: ReturnType<Clock["setTimeout"]> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => reject(new TimeoutError(ms)), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}

/** An error's message, for records. */
export function describe(error: unknown): string {
  const code = sqlState(error) ?? (error as { code?: string })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
