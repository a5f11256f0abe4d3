/**
 * `deno task bench:pgclient`: what the fault tools' PostgreSQL client
 * costs in CPU, against the alternative the harness did not take. On one
 * local PostgreSQL (the sandbox's, SCRAM passwords, over TCP as in the
 * cluster) it times N autocommit inserts through one long-lived `psql` fed
 * on stdin (a marker line echoed back per commit), then through postgres.js
 * as `tests/harness/pg_client.ts` opens it, and M connections of each (a
 * `psql -c` process, or a client's connect, query and close), and prints the
 * CPU per operation of this process and of psql, from `/proc`. Needs no
 * cluster.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { systemClock } from "../lib/runtime/clock.ts";
import { close, connect, withTimeout } from "../tests/harness/pg_client.ts";
import { freePort, Sandbox } from "../tests/harness/postgres.ts";
import type { Connection } from "../tests/harness/psql.ts";

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** CPU milliseconds of a process (user and system), and of its waited-for children. */
function cpu(pid: number | "self"): { own: number; children: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  // utime, stime, cutime, cstime are fields 14 to 17 of stat(5); 3 are before this slice.
  return {
    own: (fields[11] + fields[12]) * 1000 / TICKS,
    children: (fields[13] + fields[14]) * 1000 / TICKS,
  };
}

function say(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
}

function psqlEnv(connection: Connection): Record<string, string> {
  return {
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGUSER: connection.user,
    PGDATABASE: connection.dbname,
    PGPASSWORD: connection.password!,
  };
}

/** N inserts through one psql on stdin; returns the CPU per insert of this process and of psql. */
async function psqlInserts(psql: string, connection: Connection, n: number, first: number) {
  const child = new Deno.Command(psql, {
    args: ["--no-psqlrc", "--no-align", "--tuples-only", "--quiet", "-v", "ON_ERROR_STOP=1"],
    env: psqlEnv(connection),
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("psql exited");
      buffered += value;
    }
    const [line] = buffered.split("\n", 1);
    buffered = buffered.slice(line.length + 1);
    return line;
  };
  const encoder = new TextEncoder();
  await writer.write(encoder.encode("\\echo ready\n"));
  await nextLine();
  const self = cpu("self").own;
  const own = cpu(child.pid).own;
  for (let id = first; id < first + n; id++) {
    await writer.write(
      encoder.encode(`INSERT INTO bench (id) VALUES (${id});\n\\echo ack ${id}\n`),
    );
    if (await nextLine() !== `ack ${id}`) throw new Error(`psql did not acknowledge ${id}`);
  }
  const result = { self: (cpu("self").own - self) / n, psql: (cpu(child.pid).own - own) / n };
  await writer.close();
  await child.status;
  return result;
}

/** N inserts through one postgres.js connection; returns the CPU per insert of this process. */
async function clientInserts(connection: Connection, n: number, first: number) {
  const client = connect(connection, { applicationName: "bench", connectTimeoutMs: 5000 });
  await client`SELECT 1`;
  const self = cpu("self").own;
  for (let id = first; id < first + n; id++) await client`INSERT INTO bench (id) VALUES (${id})`;
  const result = (cpu("self").own - self) / n;
  await close(client);
  return result;
}

/** M connections (psql processes, then postgres.js clients); the CPU per connection of each. */
async function connections(psql: string, connection: Connection, m: number) {
  const before = cpu("self");
  for (let i = 0; i < m; i++) {
    const out = await new Deno.Command(psql, {
      args: ["--no-psqlrc", "-At", "-c", "SELECT pg_is_in_recovery()"],
      env: psqlEnv(connection),
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) throw new Error("psql could not connect");
  }
  const after = cpu("self");
  for (let i = 0; i < m; i++) {
    const client = connect(connection, { applicationName: "bench", connectTimeoutMs: 5000 });
    await withTimeout(client`SELECT pg_is_in_recovery()`, 5000, systemClock);
    await close(client);
  }
  return {
    psqlSelf: (after.own - before.own) / m,
    psqlChild: (after.children - before.children) / m,
    client: (cpu("self").own - after.own) / m,
  };
}

const args = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "3000" }, m: { type: "string", default: "100" } },
});
const n = Number(args.values.n);
const m = Number(args.values.m);
await using sandbox = await Sandbox.create({ prefix: "dbop-bench-clients-", major: 15 });
const data = `${sandbox.root}/data`;
const passwordFile = `${sandbox.root}/password`;
await Deno.writeTextFile(passwordFile, "bench\n");
await sandbox.own(passwordFile);
await sandbox.runOk("initdb", [
  "-D",
  data,
  "-U",
  "postgres",
  "-A",
  "scram-sha-256",
  `--pwfile=${passwordFile}`,
]);
const port = freePort();
const server = sandbox.spawnServer("postgres", [
  "-D",
  data,
  "-p",
  String(port),
  "-k",
  sandbox.root,
  "-c",
  "listen_addresses=127.0.0.1",
], { name: "bench", port });
await server.waitReady(sandbox);
const connection = {
  host: "127.0.0.1",
  port,
  user: "postgres",
  dbname: "postgres",
  password: "bench",
};
const psql = `${sandbox.install.binDir}/psql`;
const setup = connect(connection, { applicationName: "bench", connectTimeoutMs: 5000 });
await setup`CREATE TABLE bench (id bigint PRIMARY KEY)`;
await close(setup);

// A warm-up of each first, so that neither pays for the other's JIT compilation.
await psqlInserts(psql, connection, 200, 1);
await clientInserts(connection, 200, 201);
const viaPsql = await psqlInserts(psql, connection, n, 1_000);
const viaClient = await clientInserts(connection, n, 1_000 + n);
const connecting = await connections(psql, connection, m);
const us = (ms: number) => `${Math.round(ms * 1000)} us`;
say(
  `PostgreSQL ${sandbox.install.major}, SCRAM over TCP; ${n} autocommit inserts, ${m} connections`,
);
say(
  `psql on stdin:  per insert ${us(viaPsql.self)} in this process + ${us(viaPsql.psql)} in psql`,
);
say(`postgres.js:    per insert ${us(viaClient)} in this process`);
say(
  `psql -c:        per connection ${us(connecting.psqlSelf)} in this process + ${
    us(connecting.psqlChild)
  } in psql`,
);
say(`postgres.js:    per connection ${us(connecting.client)} in this process`);
await server.stop();
