/**
 * The PostgreSQL client programs the instance manager runs (psql,
 * pg_controldata), with output captured and the failure reported as one
 * error naming the program and its last output lines. Input goes through
 * standard input, never the command line, so no password shows in `ps`.
 *
 * @module
 */

/** A PostgreSQL program failed. */
export class CommandError extends Error {}

/** Pids of the children this process spawned and has not yet seen exit (see reaper.ts). */
export const spawnedChildren: Set<number> = new Set();

/** Spawns `command`, tracking its pid until it has exited. */
export function spawnTracked(command: Deno.Command): Deno.ChildProcess {
  const child = command.spawn();
  spawnedChildren.add(child.pid);
  child.status.finally(() => spawnedChildren.delete(child.pid));
  return child;
}

/** Runs `program` to completion with `input` on stdin; returns stdout or throws. */
export async function runProgram(
  program: string,
  args: string[],
  options: { input?: string; env?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<string> {
  const child = spawnTracked(
    new Deno.Command(program, {
      args,
      env: options.env,
      stdin: options.input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      signal: options.signal,
    }),
  );
  if (options.input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.input));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    const tail = decoder.decode(stderr).trim().split("\n").slice(-5).join("\n");
    throw new CommandError(`"${program}" failed with code ${code}: ${tail}`);
  }
  return decoder.decode(stdout);
}

/** Where psql connects: the instance's own socket, as the superuser (peer authentication). */
export interface LocalServer {
  socketDir: string;
  port: number;
}

/** Runs SQL through psql on the local socket as `postgres`; returns unaligned tuples-only output. */
export async function runSql(
  server: LocalServer,
  sql: string,
  options: { database?: string; signal?: AbortSignal } = {},
): Promise<string> {
  return await runProgram("psql", [
    "--no-psqlrc",
    "--no-align",
    "--tuples-only",
    "--quiet",
    "--set=ON_ERROR_STOP=1",
    `--host=${server.socketDir}`,
    `--port=${server.port}`,
    "--username=postgres",
    `--dbname=${options.database ?? "postgres"}`,
    "--file=-",
  ], { input: sql, signal: options.signal });
}

/** The database system identifier in pg_controldata's output. */
export function parseSystemIdentifier(controldata: string): string {
  const match = /^Database system identifier:\s+(\d+)\s*$/m.exec(controldata);
  if (!match) throw new Error("pg_controldata printed no database system identifier");
  return match[1];
}

/** What the data directory holds: a database or nothing, and its system identifier. */
export async function readLocalData(
  pgdata: string,
): Promise<{ exists: boolean; systemIdentifier?: string }> {
  try {
    if ((await Deno.stat(`${pgdata}/PG_VERSION`)).size === 0) return { exists: false };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { exists: false };
    throw error;
  }
  const out = await runProgram("pg_controldata", ["-D", pgdata], { env: { LC_ALL: "C" } });
  return { exists: true, systemIdentifier: parseSystemIdentifier(out) };
}
