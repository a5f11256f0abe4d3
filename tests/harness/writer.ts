/**
 * An independent writer for fault tests: a loop that commits one increasing
 * id per transaction into a table of its own, through a connection the test
 * gives (a cluster's `-rw` Service, as an application would), and records
 * each id's outcome with its times ({@linkcode WriteAttempt}). A lost or
 * refused connection is dropped and reopened every `retryMs`; a write with
 * no answer after `commitTimeoutMs` counts as unknown and its connection is
 * dropped, so that a hung server (paused, partitioned) shows as an outage
 * and not as a stuck writer. Ids are only spent on writes that were sent, on
 * a connection that had answered. `verify()` reads the table back and
 * compares it with the record (`write_record.ts`).
 *
 * ```ts
 * await using writer = await startWriter(await env.readWrite("pg", "disable"));
 * // ... fault ...
 * await writer.stop();
 * assert.deepEqual((await writer.verify(rw)).missing, []);
 * ```
 *
 * @module
 */
import { type Clock, systemClock } from "../../lib/runtime/clock.ts";
import { type Client, close, connect, describe, isRejected, withTimeout } from "./pg_client.ts";
import type { Connection } from "./psql.ts";
import {
  acknowledgedIds,
  type Outage,
  outages,
  type Verification,
  verifyRecord,
  type WriteAttempt,
} from "./write_record.ts";

/** Options of {@linkcode startWriter}. */
export interface WriterOptions {
  /** The table it creates and writes; default `dbop_writer`. */
  table?: string;
  /** Time from one write's start to the next's; default 20 ms (50 writes a second). */
  intervalMs?: number;
  /** Wait before reconnecting after a failure; default 50 ms. */
  retryMs?: number;
  /** Connection attempt timeout; default 2000 ms. */
  connectTimeoutMs?: number;
  /** A write with no answer this long counts as unknown; default 10 s. */
  commitTimeoutMs?: number;
  clock?: Clock;
}

const SAFE_NAME = /^[a-z_][a-z0-9_]*$/;

/** A running writer; see the module doc. */
export class Writer implements AsyncDisposable {
  readonly table: string;
  #connection: Connection;
  #options: Required<Omit<WriterOptions, "table" | "clock">>;
  #clock: Clock;
  #attempts: WriteAttempt[] = [];
  #connectFailures = 0;
  #lastConnectError?: string;
  #abort = new AbortController();
  #running?: Promise<void>;
  #stoppedAt?: number;
  #client?: Client;
  #server?: string;
  #nextId = 1;
  #startedAt = 0;

  constructor(connection: Connection, options: WriterOptions = {}) {
    this.table = options.table ?? "dbop_writer";
    if (!SAFE_NAME.test(this.table)) throw new Error(`Invalid table name "${this.table}"`);
    this.#connection = connection;
    this.#clock = options.clock ?? systemClock;
    this.#options = {
      intervalMs: options.intervalMs ?? 20,
      retryMs: options.retryMs ?? 50,
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      commitTimeoutMs: options.commitTimeoutMs ?? 10_000,
    };
  }

  /** Creates the table (failing if it cannot), then writes until stopped. */
  async start(): Promise<void> {
    const client = this.#connect();
    try {
      await client.unsafe(
        `CREATE TABLE IF NOT EXISTS ${this.table} ` +
          "(id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())",
      );
      const [row] = await client.unsafe(`SELECT coalesce(max(id), 0) AS max FROM ${this.table}`);
      this.#nextId = Number(row.max) + 1;
    } finally {
      await close(client);
    }
    this.#startedAt = this.#clock.now();
    this.#running = this.#loop();
  }

  /** When it started writing, on its clock. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** Every write so far, in id order. */
  get attempts(): readonly WriteAttempt[] {
    return this.#attempts;
  }

  /** Connection attempts that failed, and the last one's error. */
  get connectFailures(): { count: number; lastError?: string } {
    return { count: this.#connectFailures, lastError: this.#lastConnectError };
  }

  /** The acknowledged ids, in order. */
  acknowledged(): number[] {
    return acknowledgedIds(this.#attempts);
  }

  /** The outages so far (up to now, or to the stop), longest first. */
  outages(): Outage[] {
    return outages(this.#attempts, this.startedAt, this.#stoppedAt ?? this.#clock.now());
  }

  /** The longest outage so far. */
  longestOutage(): Outage {
    return this.outages()[0];
  }

  /** Stops writing, waiting for the write in flight to be answered or time out. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    this.#stoppedAt ??= this.#clock.now();
  }

  /** Reads the table through `connection` and compares it with the record. */
  async verify(connection: Connection): Promise<Verification> {
    const client = connect(connection, {
      applicationName: "dbop-writer-verify",
      connectTimeoutMs: this.#options.connectTimeoutMs,
    });
    try {
      const rows = await client.unsafe(`SELECT id FROM ${this.table}`);
      return verifyRecord(this.#attempts, rows.map((row) => Number(row.id)));
    } finally {
      await close(client);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #connect(): Client {
    return connect(this.#connection, {
      applicationName: "dbop-writer",
      connectTimeoutMs: this.#options.connectTimeoutMs,
    });
  }

  async #drop(): Promise<void> {
    const client = this.#client;
    this.#client = this.#server = undefined;
    if (client) await close(client);
  }

  /** An open connection, or undefined (the failure counted) when none could be opened. */
  async #open(): Promise<Client | undefined> {
    if (this.#client) return this.#client;
    const client = this.#connect();
    try {
      const [row] = await withTimeout(
        client`SELECT host(inet_server_addr()) AS server`,
        this.#options.connectTimeoutMs,
        this.#clock,
      );
      this.#client = client;
      this.#server = row.server ?? "local";
      return client;
    } catch (error) {
      this.#connectFailures++;
      this.#lastConnectError = describe(error);
      await close(client);
      return undefined;
    }
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    const { intervalMs, retryMs } = this.#options;
    while (!signal.aborted) {
      const started = this.#clock.now();
      const client = await this.#open();
      if (!client) {
        await this.#clock.sleep(retryMs, signal);
        continue;
      }
      const ok = await this.#write(client);
      if (!ok) {
        await this.#drop();
        await this.#clock.sleep(retryMs, signal);
        continue;
      }
      await this.#clock.sleep(started + intervalMs - this.#clock.now(), signal);
    }
    await this.#drop();
  }

  /** One write, recorded; false when the connection is not to be used again. */
  async #write(client: Client): Promise<boolean> {
    const id = this.#nextId++;
    const sentAt = this.#clock.now();
    const server = this.#server;
    try {
      await withTimeout(
        client`INSERT INTO ${client(this.table)} (id) VALUES (${id})`,
        this.#options.commitTimeoutMs,
        this.#clock,
      );
      this.#attempts.push({
        id,
        outcome: "acknowledged",
        sentAt,
        answeredAt: this.#clock.now(),
        server,
      });
      return true;
    } catch (error) {
      this.#attempts.push({
        id,
        outcome: isRejected(error) ? "failed" : "unknown",
        sentAt,
        answeredAt: this.#clock.now(),
        server,
        error: describe(error),
      });
      return false;
    }
  }
}

/** Starts a {@linkcode Writer} on `connection` once its table exists. */
export async function startWriter(
  connection: Connection,
  options: WriterOptions = {},
): Promise<Writer> {
  const writer = new Writer(connection, options);
  await writer.start();
  return writer;
}
