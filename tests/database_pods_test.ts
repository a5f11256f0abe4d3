/**
 * DatabaseClusters end to end on real PostgreSQL: the operator reconciles,
 * the StatefulSet controller makes the pods, the emulated kubelet runs them as
 * dbop built them (init container, instance manager as PID 1, probes, Secrets,
 * ConfigMap, TLS, service account), on loopback pod IPs, with Services
 * reaching the ready pods they select (`harness/database_pods.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { compareLsn, type InstanceSummary } from "../lib/api/mod.ts";
import { podName } from "../lib/databasecluster/names.ts";
import { databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { POSTGRES_MAJORS } from "./harness/postgres.ts";
import { psql, query } from "./harness/psql.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[pods] ${line}\n`));
}

for (const major of POSTGRES_MAJORS) {
  Deno.test({
    name:
      `a three-instance cluster bootstraps through dbop instance and streams on PostgreSQL ${major}`,
    ignore: external,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using env = await databasePods(test, "pods", { major });
      const tls = env.sandbox.install.ssl;
      const name = "pg";
      const started = performance.now();
      await env.apply({
        apiVersion: "database.example.com/v1",
        kind: "DatabaseCluster",
        metadata: { name },
        spec: {
          replicas: 3,
          version: String(major),
          storage: { size: "1Gi" },
          security: { tls: { enabled: tls } },
        },
      });
      const pods = [0, 1, 2].map((ordinal) => podName(name, ordinal));
      const statuses = await env.running(name, 3);
      report(
        `PostgreSQL ${major}: 3 instances bootstrapped through the kubelet in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
      );
      assert.deepEqual(statuses.map((s) => s?.role), ["primary", "standby", "standby"]);

      const rw = await env.readWrite(name, tls ? "require" : "disable");
      await query(env.sandbox, rw, "CREATE TABLE t (id int PRIMARY KEY)");
      await query(env.sandbox, rw, "INSERT INTO t SELECT generate_series(1, 100)");
      const ro = { ...rw, host: env.serviceAddress(`${name}-ro`) };
      await eventually("rows on a replica through -ro", async () => {
        return await query(env.sandbox, ro, "SELECT count(*) FROM t") === "100" ? true : undefined;
      });

      // status.instances follows the writes: every instance at or past the primary's LSN.
      const instancesAt = async (lsn: string) =>
        await eventually(`status.instances at ${lsn}`, async () => {
          const cluster = await getJson(test, [
            "get",
            "databasecluster",
            name,
            "-n",
            env.namespace,
          ]);
          const instances: InstanceSummary[] = cluster.status?.instances ?? [];
          const caughtUp = instances.length === 3 &&
            instances.every((i) =>
              i.ready && i.lsn !== undefined && compareLsn(i.lsn, lsn) >= 0 && i.error === undefined
            );
          return caughtUp ? instances : undefined;
        });
      const before = await query(env.sandbox, rw, "SELECT pg_current_wal_lsn()");
      const first = await instancesAt(before);
      assert.deepEqual(first.map((i) => [i.name, i.role]), [
        [pods[0], "primary"],
        [pods[1], "standby"],
        [pods[2], "standby"],
      ]);
      assert.ok(first.slice(1).every((i) => i.streaming === true), "both standbys stream");
      await query(env.sandbox, rw, "INSERT INTO t SELECT generate_series(101, 1000)");
      const later = await query(env.sandbox, rw, "SELECT pg_current_wal_lsn()");
      assert.ok(compareLsn(later, before) > 0);
      const second = await instancesAt(later);
      for (const [i, instance] of second.entries()) {
        assert.ok(compareLsn(instance.lsn!, first[i].lsn!) > 0, `${instance.name}'s LSN advanced`);
      }
      report(`status.instances: ${JSON.stringify(second)}`);

      // Deleting the app Secret rotates its password: PostgreSQL follows, with no restart.
      const startedAt = statuses[0]!.postmasterStartTime;
      const rotatedAt = performance.now();
      await test.kubectlOk(["delete", "secret", `${name}-app`, "-n", env.namespace]);
      const fresh = await eventually("a new app Secret", async () => {
        const secret = await env.secret(`${name}-app`).catch(() => undefined);
        return secret && secret.password !== rw.password ? secret : undefined;
      });
      // PostgreSQL had the new password before the Secret was written.
      const ok = await psql(env.sandbox, { ...rw, password: fresh.password }, "SELECT 1");
      assert.equal(ok.code, 0, `the new password works as soon as it is seen: ${ok.stderr}`);
      assert.match(
        env.kubelet.logs(env.namespace, pods[0], "postgres"),
        new RegExp(`new password of Secret \\W*${name}-app\\W* before the Secret holds it`),
        "the operator handed the password to the primary first",
      );
      report(
        `app Secret deleted: a new one with a working password seen after ${
          Math.round(performance.now() - rotatedAt)
        } ms`,
      );
      const old = await psql(env.sandbox, rw, "SELECT 1");
      assert.match(old.stderr, /password authentication failed/, "the old password is refused");
      const after = await env.instanceStatus(name, pods[0]);
      assert.equal(after?.postmasterStartTime, startedAt, "the primary did not restart");
    },
  });
}

Deno.test({
  name: "switching md5 to scram-sha-256 re-hashes the passwords, so the same password still works",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "rehash", { major: 15 });
    const name = "pg";
    const manifest = (type: string) => ({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: {
        replicas: 2,
        version: "15",
        storage: { size: "1Gi" },
        security: { authentication: { type } as Record<string, string> },
      },
    });
    await env.apply(manifest("md5"));
    await env.running(name, 2);
    const rw = await env.readWrite(name, "require");
    const socket = () => {
      const local = env.kubelet.localPod(env.namespace, `${name}-0`);
      return {
        host: local.hostPath("/var/run/postgresql"),
        port: 5432,
        user: "postgres",
        dbname: "postgres",
      };
    };
    const hashes = async () =>
      await query(
        env.sandbox,
        socket(),
        "SELECT string_agg(rolname || ':' || left(rolpassword, 3), ',' ORDER BY rolname) " +
          "FROM pg_authid WHERE rolpassword IS NOT NULL",
      );
    assert.equal(await hashes(), `${rw.user}:md5,postgres:md5,streaming_replica:md5`);
    assert.equal(await query(env.sandbox, rw, "SELECT 1"), "1");

    const before = (await env.pod(`${name}-0`))!.metadata!.uid;
    await env.apply(manifest("scram-sha-256"));
    // The primary re-hashes as soon as it has reloaded the new password_encryption, while the
    // rolling update (for initdb's method in the pod's environment) still replaces the standby.
    await eventually(
      "the passwords re-hashed as SCRAM by the reloaded primary",
      async () =>
        await hashes() === `${rw.user}:SCR,postgres:SCR,streaming_replica:SCR` ? true : undefined,
    );
    assert.equal((await env.pod(`${name}-0`))?.metadata?.uid, before, "before its pod is replaced");
    await eventually("the primary's pod replaced by the rolling update", async () => {
      const pod = await env.pod(`${name}-0`);
      return pod && pod.metadata!.uid !== before ? true : undefined;
    }, { timeoutMs: 180_000 });
    await env.running(name, 2);
    await eventually(
      "the passwords re-hashed as SCRAM",
      async () =>
        await hashes() === `${rw.user}:SCR,postgres:SCR,streaming_replica:SCR` ? true : undefined,
    );
    assert.equal(await query(env.sandbox, rw, "SELECT 1"), "1", "the same password still works");

    // Renaming the application owner renames the role: what it owns follows, and its password.
    await query(env.sandbox, rw, "CREATE TABLE owned (id int)");
    const renamed = manifest("scram-sha-256");
    renamed.spec.security.authentication = { type: "scram-sha-256", username: "shop" };
    await env.apply(renamed);
    const shop = { ...rw, user: "shop" };
    await eventually(
      "the owner renamed to shop",
      async () => (await psql(env.sandbox, shop, "SELECT 1")).code === 0 ? true : undefined,
    );
    assert.equal((await env.secret(`${name}-app`)).username, "shop");
    assert.equal(
      await query(env.sandbox, shop, "SELECT tableowner FROM pg_tables WHERE tablename = 'owned'"),
      "shop",
    );
    assert.equal(
      await query(
        env.sandbox,
        socket(),
        `SELECT count(*) FROM pg_roles WHERE rolname = '${rw.user}'`,
      ),
      "0",
    );
    // The database keeps its name: the API server refuses a change.
    const moved = manifest("scram-sha-256");
    moved.spec.security.authentication = {
      type: "scram-sha-256",
      username: "shop",
      database: "other",
    };
    const refused = await test.kubectl(["apply", "-n", env.namespace, "-f", "-"], {
      stdin: JSON.stringify(moved),
    });
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /Cannot change database: the application database keeps its name "app"/,
    );
  },
});

Deno.test({
  name:
    "a primary whose volume is lost never runs initdb: a condition without failover, a failover with it",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "lost", { major: 15 });
    const name = "pg";
    const manifest = (ha: boolean) => ({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: { replicas: 2, version: "15", storage: { size: "1Gi" }, ha: { enabled: ha } },
    });
    await env.apply(manifest(false));
    const pods = [0, 1].map((ordinal) => podName(name, ordinal));
    await env.running(name, 2);
    const rw = await env.readWrite(name, "require");
    await query(env.sandbox, rw, "CREATE TABLE t AS SELECT generate_series(1, 500) AS id");
    const standbySocket = () => ({
      host: env.kubelet.localPod(env.namespace, pods[1]).hostPath("/var/run/postgresql"),
      port: 5432,
      user: "postgres",
      dbname: "app",
    });
    await eventually(
      "the rows on the standby",
      async () =>
        await query(env.sandbox, standbySocket(), "SELECT count(*) FROM t") === "500"
          ? true
          : undefined,
    );
    const recorded = (await getJson(test, ["get", "dbc", name, "-n", env.namespace])).status;
    assert.match(recorded.systemIdentifier, /^\d+$/);

    // The volume goes, then its pod: the StatefulSet makes both anew, the volume empty.
    const before = (await env.pod(pods[0]))!.metadata!.uid;
    await test.kubectlOk(["delete", "pvc", `data-${pods[0]}`, "-n", env.namespace, "--wait=false"]);
    await test.kubectlOk(["delete", "pod", pods[0], "-n", env.namespace]);
    const waiting = await eventually("the new primary pod waiting", async () => {
      const pod = await env.pod(pods[0]);
      if (!pod || pod.metadata!.uid === before) return undefined;
      // A new manager first waits for its cluster to be seen (NoCluster), then decides.
      const status = await env.instanceStatus(name, pods[0]);
      return status?.waiting?.reason === "PrimaryDataLost" ? status : undefined;
    }, { timeoutMs: 120_000 });
    assert.equal(waiting.waiting?.reason, "PrimaryDataLost");
    assert.equal(waiting.postgres, "stopped");
    const pgdata = env.kubelet.localPod(env.namespace, pods[0]).hostPath(
      "/var/lib/postgresql/data/pgdata",
    );
    assert.equal(await Deno.stat(`${pgdata}/PG_VERSION`).then(() => true, () => false), false);
    const log = env.kubelet.logs(env.namespace, pods[0], "postgres");
    assert.doesNotMatch(log, /Created database/, "no initdb in the new pod");
    assert.equal(await query(env.sandbox, standbySocket(), "SELECT count(*) FROM t"), "500");
    const dbc = (await getJson(test, ["get", "dbc", name, "-n", env.namespace])).status;
    assert.equal(
      dbc.systemIdentifier,
      recorded.systemIdentifier,
      "the cluster's database is unchanged",
    );
    const warning = await eventually("a PrimaryDataLost event on the cluster", async () => {
      const events = await getJson(test, ["get", "events.events.k8s.io", "-n", env.namespace]);
      // deno-lint-ignore no-explicit-any
      return events.items.find((e: any) => e.reason === "PrimaryDataLost");
    });
    assert.equal(warning.type, "Warning");
    assert.equal(warning.regarding.kind, "DatabaseCluster");
    assert.equal(warning.regarding.name, name);
    assert.equal(warning.reportingController, "database.example.com/dbop-instance");
    assert.match(warning.note, /pg-0: .*data directory is empty/);
    const failed = await eventually("the cluster Failed with reason PrimaryDataLost", async () => {
      const status = (await getJson(test, ["get", "dbc", name, "-n", env.namespace])).status;
      const ready = status.conditions?.find((c: { type: string }) => c.type === "Ready");
      return status.phase === "Failed" && ready?.reason === "PrimaryDataLost" ? status : undefined;
    });
    assert.match(failed.message, /Primary "pg-0": .*data directory is empty/);
    const instance = failed.instances.find((i: InstanceSummary) => i.name === pods[0]);
    assert.match(instance.error, /^PrimaryDataLost: /);

    // With failover allowed, the standby takes over at once and the empty instance clones.
    await env.apply(manifest(true));
    await eventually("pg-1 the primary, pg-0 a streaming standby", async () => {
      const [zero, one] = await Promise.all(pods.map((pod) => env.instanceStatus(name, pod)));
      return one?.role === "primary" && zero?.role === "standby" && zero.walReceiverStreaming
        ? true
        : undefined;
    }, { timeoutMs: 120_000 });
    assert.equal(await query(env.sandbox, rw, "SELECT count(*) FROM t"), "500");
    assert.match(env.kubelet.logs(env.namespace, pods[0], "postgres"), /Cloning from/);
    assert.doesNotMatch(env.kubelet.logs(env.namespace, pods[0], "postgres"), /Created database/);
  },
});
