/**
 * `ha.switchoverDelay` bounds the old primary's fast shutdown in a
 * switchover. In a fast shutdown PostgreSQL writes the shutdown checkpoint,
 * then each walsender sends the rest of the WAL and waits until its standby
 * confirms it (walsender.c, `WalSndDone`); a standby whose processes are
 * stopped (SIGSTOP: the kernel still takes the TCP stream, nothing answers)
 * confirms nothing, so its walsender waits until `wal_sender_timeout` (60 s,
 * counted from the standby's last reply), and the postmaster waits for the
 * walsender. Here standby B is paused and a switchover to C asked at once:
 * the old primary's manager must cut the fast shutdown off after the 5 s of
 * `ha.switchoverDelay` with SIGQUIT, and only then release the Lease for C.
 * The shutdown checkpoint was already written and C had confirmed it, so
 * nothing acknowledged is lost. A second switchover with every standby
 * running shows the fast shutdown is quick when no standby holds it up.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ANNOTATIONS, podName, superuserSecretName } from "../lib/databasecluster/names.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { query } from "./harness/psql.ts";
import { startSampler } from "./harness/sampler.ts";
import { startWriter } from "./harness/writer.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

const SWITCHOVER_DELAY_SECONDS = 5;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[rejoin] ${line}\n`));
}

interface LogEntry {
  at: number;
  message: string;
  outcome?: string;
  ms?: number;
  bound?: number;
}

/** The instance manager's JSON log lines of `pod` since `since`. */
function managerLog(env: DatabasePods, pod: string, since: number): LogEntry[] {
  return env.kubelet.logs(env.namespace, pod, "postgres").split("\n")
    .filter((line) => line.startsWith('{"@timestamp"'))
    .map((line) => JSON.parse(line))
    .map((entry) => ({ ...entry, at: Date.parse(entry["@timestamp"]) }))
    .filter((entry) => entry.at >= since);
}

/** PostgreSQL's own log lines of `pod` since `since`, with their times. */
function postgresLines(
  env: DatabasePods,
  pod: string,
  since: number,
): { at: number; text: string }[] {
  return env.kubelet.logs(env.namespace, pod, "postgres").split("\n").flatMap((text) => {
    const time = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) GMT /.exec(text);
    const at = time ? Date.parse(`${time[1]}T${time[2]}Z`) : NaN;
    return at >= since ? [{ at, text }] : [];
  });
}

function first(entries: LogEntry[], pattern: RegExp, pod: string): LogEntry {
  const entry = entries.find((e) => pattern.test(e.message));
  assert.ok(entry, `${pod} logged ${pattern}`);
  return entry;
}

/** Asks for a switchover to `to` with the promote annotation and waits until it is done. */
async function switchOver(env: DatabasePods, cluster: string, to: string): Promise<void> {
  await test.kubectlOk([
    "annotate",
    "databasecluster",
    cluster,
    "-n",
    env.namespace,
    `${ANNOTATIONS.promote}=${to}`,
    "--overwrite",
  ]);
  await eventually(`the switchover to ${to} done`, async () => {
    const status = await env.clusterStatus(cluster);
    return status.currentPrimary === to && status.targetPrimary === to ? true : undefined;
  }, { timeoutMs: 120_000, intervalMs: 200 });
}

Deno.test({
  name: "a paused standby holds up the old primary's fast shutdown in a switchover until " +
    "ha.switchoverDelay, then SIGQUIT, then the Lease: the target promotes, nothing lost",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "switchover-delay", { major: 15 });
    const name = "pg";
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: {
        replicas: 3,
        version: "15",
        storage: { size: "1Gi" },
        ha: { switchoverDelay: SWITCHOVER_DELAY_SECONDS },
        // The test reads pg_stat_replication on the primary as the superuser.
        security: { enableSuperuserAccess: true },
      },
    });
    const [a, b, c] = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    await env.running(name, 3, { primary: a });
    const rw = await env.readWrite(name, "prefer");
    const superuser = await env.secret(superuserSecretName(name));
    const asSuperuser = { ...rw, user: superuser.username, password: superuser.password };
    asSuperuser.dbname = "postgres";
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    await eventually("writes acknowledged", () => {
      const acked = writer.attempts.filter((x) => x.outcome === "acknowledged").length;
      return Promise.resolve(acked >= 50 ? true : undefined);
    }, { timeoutMs: 60_000 });

    const pausedAt = Date.now();
    await env.pausePod(b);
    let askedAt: number;
    try {
      // B's walsender on the primary is still there: nothing closed the connection.
      const walsenders = await query(
        env.sandbox,
        asSuperuser,
        "SELECT string_agg(application_name || ':' || state, ',' ORDER BY application_name) " +
          "FROM pg_stat_replication",
      );
      assert.equal(walsenders, `${b}:streaming,${c}:streaming`);
      askedAt = Date.now();
      await switchOver(env, name, c);
    } finally {
      await env.resumePod(b);
    }
    const doneAt = Date.now();
    report(
      `switchover to ${c} with ${b} paused: done ${doneAt - askedAt} ms after the request ` +
        `(${b} paused ${askedAt - pausedAt} ms before it, resumed after it)`,
    );

    const oldLog = managerLog(env, a, askedAt);
    const stopped = first(oldLog, /^Stopped PostgreSQL/, a);
    assert.equal(stopped.bound, SWITCHOVER_DELAY_SECONDS * 1000, "bounded by switchoverDelay");
    assert.equal(stopped.outcome, "immediate", "the fast shutdown was cut off with SIGQUIT");
    // SIGQUIT goes at the bound; PostgreSQL then exits at once (SIGKILL would follow in 5 s).
    assert.ok(
      stopped.ms! >= SWITCHOVER_DELAY_SECONDS * 1000 &&
        stopped.ms! < SWITCHOVER_DELAY_SECONDS * 2000,
      `stopped in ${stopped.ms} ms`,
    );
    const released = first(oldLog, /^Released/, a);
    assert.ok(released.at >= stopped.at, "the Lease released only once PostgreSQL was down");
    const holds = first(managerLog(env, c, askedAt), /^Holds the primary Lease/, c);
    const promoted = first(managerLog(env, c, askedAt), /^Promoted to primary/, c);
    assert.ok(holds.at >= released.at, `${c} took the Lease after ${a} released it`);
    assert.ok(promoted.at >= holds.at);
    // PostgreSQL's side: the shutdown checkpoint was done early, and what kept the postmaster
    // up until SIGQUIT came after it, which is only the walsenders' wait for their standbys.
    const pgLog = postgresLines(env, a, askedAt);
    const fast = pgLog.findIndex((l) => l.text.includes("received fast shutdown request"));
    assert.ok(fast >= 0, "PostgreSQL began a fast shutdown");
    const checkpoint = pgLog.findIndex((l, i) =>
      i > fast && l.text.includes("checkpoint complete")
    );
    assert.ok(checkpoint > fast, "then wrote the shutdown checkpoint");
    const immediate = pgLog.findIndex((l, i) =>
      i > checkpoint && l.text.includes("received immediate shutdown request")
    );
    assert.ok(immediate > checkpoint, "then got an immediate shutdown");
    const heldMs = pgLog[immediate].at - pgLog[checkpoint].at;
    assert.ok(heldMs >= SWITCHOVER_DELAY_SECONDS * 1000 - 2000, `held ${heldMs} ms after it`);
    report(
      `${a}'s PostgreSQL: shutdown checkpoint done ${
        pgLog[checkpoint].at - pgLog[fast].at
      } ms after the fast shutdown request, then held ${heldMs} ms until the immediate one`,
    );
    report(
      `old primary ${a}: ${stopped.outcome} shutdown in ${stopped.ms} ms (bound ${stopped.bound} ms); ` +
        `+${stopped.at - askedAt} ms stopped, +${released.at - askedAt} ms Lease released, ` +
        `+${holds.at - askedAt} ms ${c} holds it, +${promoted.at - askedAt} ms ${c} promoted`,
    );

    // The old primary rejoins (its data shut down after the shutdown checkpoint, which C
    // had), and B follows C's timeline once resumed.
    await env.running(name, 3, { primary: c });

    // The same switchover with no standby held: the fast shutdown ends well within the bound.
    const backAt = Date.now();
    await switchOver(env, name, a);
    const back = first(managerLog(env, c, backAt), /^Stopped PostgreSQL/, c);
    assert.equal(back.outcome, "fast", "no standby held the fast shutdown up");
    report(`switchover back to ${a}, no standby paused: ${back.outcome} shutdown in ${back.ms} ms`);
    await env.running(name, 3, { primary: a });

    await writer.stop();
    const final = await eventually("the table read back", () => writer.verify(rw));
    assert.deepEqual(final.missing, [], "no acknowledged write lost");
    assert.deepEqual(final.failedPresent, []);
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    report(
      `writes: ${final.acknowledged} acknowledged, none lost; ${final.unknown} unknown ` +
        `(${final.unknownPresent} committed); sampler rounds: ${sampler.rounds.length}`,
    );
  },
});
