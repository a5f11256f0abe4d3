/**
 * psql as a test client: runs SQL as the sandbox's server user against a server
 * given by host (address or socket directory), port, role, database, password
 * and TLS settings, all passed through libpq's environment variables.
 *
 * @module
 */
import type { CommandResult, Sandbox } from "./postgres.ts";

/** Unaligned, tuples only, no psqlrc, never prompting, stopping at the first error. */
const PSQL_FLAGS = "--no-psqlrc --no-align --tuples-only --quiet --no-password -v ON_ERROR_STOP=1"
  .split(" ");

/** Where and as whom {@linkcode psql} connects. */
export interface Connection {
  host: string;
  port: number;
  user: string;
  dbname: string;
  password?: string;
  sslmode?: string;
  sslrootcert?: string;
}

/** Runs SQL with psql (unaligned, tuples only, stop on error); never throws on a failed query. */
export async function psql(
  sandbox: Sandbox,
  connection: Connection,
  sql: string,
): Promise<CommandResult> {
  const env: Record<string, string> = {
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGUSER: connection.user,
    PGDATABASE: connection.dbname,
    PGSSLMODE: connection.sslmode ?? "disable",
    PGCONNECT_TIMEOUT: "10",
  };
  if (connection.password !== undefined) env.PGPASSWORD = connection.password;
  if (connection.sslrootcert !== undefined) env.PGSSLROOTCERT = connection.sslrootcert;
  return await sandbox.run(
    "psql",
    [...PSQL_FLAGS, "-c", sql],
    { env, timeoutMs: 30_000 },
  );
}

/** Like {@linkcode psql}, but returns the trimmed output and throws when the query fails. */
export async function query(
  sandbox: Sandbox,
  connection: Connection,
  sql: string,
): Promise<string> {
  const result = await psql(sandbox, connection, sql);
  if (result.code !== 0) {
    throw new Error(
      `Query failed as "${connection.user}" on port "${connection.port}": ${result.stderr.trim()}`,
    );
  }
  return result.stdout.trim();
}
