/**
 * Reload, don't restart, on real pods (`harness/database_pods.ts`): the
 * instance managers follow the ConfigMap and the server TLS Secret from the
 * API server and reload PostgreSQL, so a reloadable setting and a renewed
 * certificate reach every instance with no restart (the postmaster start
 * times stay, and so do the pods), and so does a new status token (the
 * instances follow its Secret); a setting that needs a restart is reported
 * as `pendingRestart` by each instance, and the operator restarts them in
 * place one at a time through `POST /restart` (the status token's alone),
 * standbys first, with the setting then in effect. One three-instance
 * PostgreSQL 15 cluster with TLS serves all four steps. Then, on PostgreSQL 15
 * and 18, what PostgreSQL refuses on reload (a bad unit and an unknown
 * parameter, which the CRD lets through; a bad pg_hba.conf line, which only
 * an edit of the ConfigMap can make) is each instance's `lastError`, in
 * `status.instances` and one Warning event per problem until it is fixed.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { InstanceStatus, InstanceSummary } from "../lib/api/mod.ts";
import { ConfigMaps } from "../lib/databasecluster/kinds.ts";
import { configMapName, podName } from "../lib/databasecluster/names.ts";
import type { EventObject } from "../lib/runtime/events.ts";
import { STATUS_PORT } from "../lib/databasecluster/specs/instance_pod.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { POSTGRES_MAJORS } from "./harness/postgres.ts";
import { psql, query } from "./harness/psql.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;
const NAME = "pg";
const PODS = [0, 1, 2].map((ordinal) => podName(NAME, ordinal));

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[reload] ${line}\n`));
}

function manifest(
  parameters: Record<string, string>,
  cluster: { replicas: number; major: number; tls: boolean } = {
    replicas: 3,
    major: 15,
    tls: true,
  },
) {
  return {
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    metadata: { name: NAME },
    spec: {
      replicas: cluster.replicas,
      version: String(cluster.major),
      storage: { size: "1Gi" },
      security: { tls: { enabled: cluster.tls } },
      postgresql: { parameters },
    },
  };
}

/** `SHOW <setting>` on every instance, through its own socket as the superuser. */
async function shown(env: DatabasePods, setting: string, pods = PODS): Promise<string[]> {
  return await Promise.all(pods.map((pod) =>
    query(env.sandbox, {
      host: env.kubelet.localPod(env.namespace, pod).hostPath("/var/run/postgresql"),
      port: 5432,
      user: "postgres",
      dbname: "postgres",
    }, `SHOW ${setting}`)
  ));
}

async function statuses(env: DatabasePods, pods = PODS): Promise<(InstanceStatus | undefined)[]> {
  return await Promise.all(pods.map((pod) => env.instanceStatus(NAME, pod)));
}

async function startTimes(env: DatabasePods, pods = PODS): Promise<(string | undefined)[]> {
  return (await statuses(env, pods)).map((status) => status?.postmasterStartTime);
}

async function podUids(env: DatabasePods, pods = PODS): Promise<(string | undefined)[]> {
  return await Promise.all(pods.map(async (pod) => (await env.pod(pod))?.metadata?.uid));
}

/** The first PEM certificate in `text`. */
function firstCertificate(text: string): string {
  const match = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!match) throw new Error("No PEM certificate");
  return match[0];
}

/** The certificate the server at `host` presents, as PEM, read by openssl's TLS client. */
async function servedCertificate(host: string): Promise<string> {
  const { stdout } = await new Deno.Command("openssl", {
    args: ["s_client", "-starttls", "postgres", "-connect", `${host}:5432`],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    signal: AbortSignal.timeout(10_000),
  }).output();
  return firstCertificate(new TextDecoder().decode(stdout));
}

async function servedCertificates(env: DatabasePods): Promise<string[]> {
  return await Promise.all(PODS.map(async (pod) => {
    const ip = (await env.pod(pod))?.status?.podIP;
    if (!ip) throw new Error(`${pod} has no IP`);
    return await servedCertificate(ip);
  }));
}

/** The HTTP status `pod`'s instance manager answers GET /status with `token`. */
async function statusCode(env: DatabasePods, pod: string, token: string): Promise<number> {
  const ip = (await env.pod(pod))?.status?.podIP;
  const response = await fetch(`http://${ip}:${STATUS_PORT}/status`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5_000),
  });
  await response.body?.cancel();
  return response.status;
}

/** POST /restart of `pod`'s instance manager, with `token` as the bearer token if any. */
async function postRestart(env: DatabasePods, pod: string, token?: string): Promise<number> {
  const ip = (await env.pod(pod))?.status?.podIP;
  const response = await fetch(`http://${ip}:${STATUS_PORT}/restart`, {
    method: "POST",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5_000),
  });
  await response.body?.cancel();
  return response.status;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(2);
}

Deno.test({
  name:
    "work_mem, a renewed certificate and a new status token reach the instances without a restart; shared_buffers restarts them in place, standbys first",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "reload", { major: 15 });
    assert.ok(env.sandbox.install.ssl, "PostgreSQL 15 is built with OpenSSL");
    await env.apply(manifest({}));
    await env.running(NAME, 3);
    const uids = await podUids(env);
    const started = await startTimes(env);
    assert.ok(started.every((time) => time !== undefined));
    assert.deepEqual(await shown(env, "work_mem"), ["4MB", "4MB", "4MB"]);

    // A reloadable setting: every instance takes it, none restarts.
    let since = performance.now();
    await env.apply(manifest({ work_mem: "8MB" }));
    await eventually("the ConfigMap with work_mem 8MB", async () => {
      const configMap = await env.resources.get(ConfigMaps, configMapName(NAME), {
        namespace: env.namespace,
      });
      return configMap.data?.["postgresql.conf"]?.includes("work_mem = '8MB'") ? true : undefined;
    }, { intervalMs: 20 });
    const changed = performance.now();
    report(`spec change to ConfigMap updated by the operator: ${seconds(since)} s`);
    await eventually("work_mem 8MB on every instance", async () => {
      const values = await shown(env, "work_mem");
      return values.every((value) => value === "8MB") ? values : undefined;
    }, { intervalMs: 20 });
    report(`ConfigMap change to work_mem 8MB shown on all 3 instances: ${seconds(changed)} s`);
    assert.deepEqual(await startTimes(env), started, "no postmaster restarted");
    assert.deepEqual(
      (await statuses(env)).map((s) => s?.pendingRestart),
      [false, false, false],
      env.logTails(PODS),
    );

    // A renewed certificate: served by every instance, none restarts.
    const old = firstCertificate((await env.secret(`${NAME}-server`))["tls.crt"]);
    assert.deepEqual(await servedCertificates(env), [old, old, old]);
    since = performance.now();
    await test.kubectlOk(["delete", "secret", `${NAME}-server`, "-n", env.namespace]);
    const renewed = await eventually("a renewed server certificate", async () => {
      const secret = await env.secret(`${NAME}-server`).catch(() => undefined);
      const pem = secret?.["tls.crt"] && firstCertificate(secret["tls.crt"]);
      return pem && pem !== old ? pem : undefined;
    }, { intervalMs: 20 });
    const issued = performance.now();
    report(`server TLS Secret deleted: the operator issued a new one in ${seconds(since)} s`);
    await eventually("the renewed certificate served by every instance", async () => {
      const served = await servedCertificates(env);
      return served.every((pem) => pem === renewed) ? true : undefined;
    }, { intervalMs: 20 });
    report(`renewed certificate in the Secret to served by all 3 instances: ${seconds(issued)} s`);
    assert.deepEqual(await startTimes(env), started, "no postmaster restarted");
    const rw = await env.readWrite(NAME, "verify-ca");
    const ca = `${env.sandbox.root}/reload-ca.crt`;
    await Deno.writeTextFile(ca, (await env.secret(`${NAME}-server`))["ca.crt"]);
    assert.equal(await query(env.sandbox, { ...rw, sslrootcert: ca }, "SELECT 1"), "1");

    // A new status token (its Secret deleted, the operator writes another): every instance
    // accepts it from the Secret, none restarts, and the old one is refused.
    const oldToken = (await env.secret(`${NAME}-status`)).token;
    since = performance.now();
    await test.kubectlOk(["delete", "secret", `${NAME}-status`, "-n", env.namespace]);
    const newToken = await eventually("a new status token", async () => {
      const token = (await env.secret(`${NAME}-status`).catch(() => undefined))?.token;
      return token && token !== oldToken ? token : undefined;
    }, { intervalMs: 20 });
    const written = performance.now();
    report(`status Secret deleted: the operator wrote a new token in ${seconds(since)} s`);
    await eventually("every instance accepting the new token", async () => {
      const codes = await Promise.all(PODS.map((pod) => statusCode(env, pod, newToken)));
      return codes.every((code) => code === 200) ? true : undefined;
    }, { intervalMs: 20 });
    report(`new token in the Secret to accepted by all 3 instances: ${seconds(written)} s`);
    const polled = await eventually("status.instances polled with the new token", async () => {
      const instances: InstanceSummary[] =
        (await getJson(test, ["get", "dbc", NAME, "-n", env.namespace])).status?.instances ?? [];
      const clean = instances.length === 3 &&
        instances.every((i) => i.error === undefined && i.role !== undefined);
      return clean ? instances : undefined;
    }, { timeoutMs: 30_000 });
    report(`new token in the Secret to status.instances without errors: ${seconds(written)} s`);
    assert.deepEqual(polled.map((i) => i.role), ["primary", "standby", "standby"]);
    for (const pod of PODS) assert.equal(await statusCode(env, pod, oldToken), 401, pod);
    assert.deepEqual(await startTimes(env), started, "no postmaster restarted");
    assert.deepEqual(await podUids(env), uids, "no pod was replaced");

    // POST /restart takes the status token alone.
    assert.equal(await postRestart(env, PODS[2]), 401, "no token, no restart");
    assert.equal(await postRestart(env, PODS[2], "not-the-token"), 401);
    assert.deepEqual(await startTimes(env), started);

    // A setting that needs a restart: the instances report it, the operator restarts them
    // in place one at a time, standbys first.
    since = performance.now();
    await env.apply(manifest({ work_mem: "8MB", shared_buffers: "64MB" }));
    const restarted = await eventually("every instance restarted with shared_buffers", async () => {
      const all = await statuses(env);
      const done = all.every((s, i) =>
        s?.postgres === "running" && s.pendingRestart === false &&
        s.postmasterStartTime !== started[i]
      );
      return done ? all : undefined;
    }, { timeoutMs: 60_000 });
    report(`shared_buffers change to all 3 instances restarted in place: ${seconds(since)} s`);
    const times = restarted.map((s) => Date.parse(s!.postmasterStartTime!));
    assert.ok(times[0] > times[1] && times[0] > times[2], "the primary restarted last");
    const events = await getJson(test, ["get", "events.events.k8s.io", "-n", env.namespace]);
    const restarts = events.items
      .filter((e: { reason: string }) => e.reason === "Restarting")
      .sort((a: { eventTime: string }, b: { eventTime: string }) =>
        a.eventTime.localeCompare(b.eventTime)
      )
      .map((e: { note: string }) => /"([^"]+)"/.exec(e.note)![1]);
    // Of the standbys, whichever reports the setting pending first goes first.
    assert.equal(restarts.length, 3, `one restart each: ${restarts.join(", ")}`);
    assert.deepEqual(restarts.slice(0, 2).sort(), [PODS[1], PODS[2]], "the standbys first");
    assert.equal(restarts[2], PODS[0], "the primary last");
    assert.deepEqual(await shown(env, "shared_buffers"), ["64MB", "64MB", "64MB"]);
    await env.running(NAME, 3);
    assert.deepEqual(await podUids(env), uids, "no pod was replaced");
    const after = await psql(env.sandbox, { ...rw, sslrootcert: ca }, "SELECT 1");
    assert.equal(after.code, 0, after.stderr);
  },
});

/** The `ConfigurationRejected` events on the cluster: who reported, what, how many times. */
async function rejectionEvents(env: DatabasePods) {
  const events = await getJson(test, ["get", "events.events.k8s.io", "-n", env.namespace]);
  return events.items
    .filter((e: { reason: string }) => e.reason === "ConfigurationRejected")
    .map((e: EventObject) => ({
      type: e.type,
      regarding: `${e.regarding.kind}/${e.regarding.name}`,
      pod: e.reportingInstance,
      note: e.note ?? "",
      count: e.series?.count ?? 1,
    }));
}

for (const major of POSTGRES_MAJORS) {
  Deno.test({
    name:
      `settings and pg_hba.conf lines PostgreSQL refuses are reported until fixed, once each, with no restart, on PostgreSQL ${major}`,
    ignore: external,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using env = await databasePods(test, "rejected", { major });
      const tls = env.sandbox.install.ssl;
      const pods = PODS.slice(0, 2);
      const apply = (parameters: Record<string, string>) =>
        env.apply(manifest(parameters, { replicas: 2, major, tls }));
      const lastErrors = async () => (await statuses(env, pods)).map((s) => s?.lastError);
      const everyError = (what: string, match: (error: string) => boolean) =>
        eventually(what, async () => {
          const errors = await lastErrors();
          return errors.every((error) => error !== undefined && match(error)) ? errors : undefined;
        });
      const clusterErrors = async () =>
        ((await getJson(test, ["get", "dbc", NAME, "-n", env.namespace])).status?.instances ??
          []).map((i: InstanceSummary) => i.error);
      await apply({});
      await env.running(NAME, 2);
      const uids = await podUids(env, pods);
      const started = await startTimes(env, pods);
      assert.deepEqual(await shown(env, "work_mem", pods), ["4MB", "4MB"]);

      // A bad unit, which the CRD lets through: PostgreSQL keeps 4MB and says so in its log;
      // each instance reports the line, once as an event, and the cluster's status shows it.
      let since = performance.now();
      await apply({ work_mem: "8XB" });
      const refused = await everyError(
        "work_mem 8XB reported by every instance",
        (error) =>
          /postgresql\.conf line \d+: work_mem = '8XB': setting could not be applied, its previous value stays$/
            .test(error),
      );
      report(
        `PostgreSQL ${major}: work_mem 8XB applied to refused on both instances: ${
          seconds(since)
        } s: ${refused[0]}`,
      );
      assert.deepEqual(await shown(env, "work_mem", pods), ["4MB", "4MB"], "the old value stays");
      await eventually("status.instances naming the refused line", async () => {
        const errors = await clusterErrors();
        return errors.length === 2 && errors.every((e: string) => e === refused[0]) || undefined;
      });
      report(`PostgreSQL ${major}: work_mem 8XB applied to status.instances: ${seconds(since)} s`);
      const first = await eventually("one ConfigurationRejected event per instance", async () => {
        const events = await rejectionEvents(env);
        return events.length === 2 ? events : undefined;
      });
      for (const pod of pods) {
        const event = first.find((e: { pod: string }) => e.pod === pod);
        assert.deepEqual(event, {
          type: "Warning",
          regarding: `DatabaseCluster/${NAME}`,
          pod,
          note: `${pod}: ${refused[0]}`,
          count: 1,
        });
        const log = env.kubelet.logs(env.namespace, pod, "postgres");
        assert.ok(log.includes(`${refused[0]}\\" (reloaded for`), "the log says it is not applied");
      }

      // Another change, the same problem: the good setting is taken, no second event.
      await apply({ work_mem: "8XB", xmloption: "document" });
      await eventually("xmloption document on every instance", async () => {
        const values = await shown(env, "xmloption", pods);
        return values.every((value) => value === "document") || undefined;
      });
      assert.deepEqual(await lastErrors(), refused);
      // Longer than the event recorder's 5 s between two writes of one series.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      assert.deepEqual(
        (await rejectionEvents(env)).map((e: { count: number }) => e.count),
        [1, 1],
        "the same problem is not reported again",
      );

      // A parameter PostgreSQL does not know keeps the whole file, so the new work_mem too.
      await apply({ work_mem: "16MB", wrok_mem: "1MB", xmloption: "document" });
      await everyError(
        "the unknown parameter reported",
        (error) =>
          /postgresql\.conf line \d+: wrok_mem: unrecognized configuration parameter, so none of postgresql\.conf's changes were applied$/
            .test(error),
      );
      assert.deepEqual(await shown(env, "work_mem", pods), ["4MB", "4MB"]);
      await eventually("a second event per instance", async () => {
        const events = await rejectionEvents(env);
        return events.length === 4 && events.every((e: { count: number }) => e.count === 1) ||
          undefined;
      });

      // Fixed: taken, and every report clears.
      since = performance.now();
      await apply({ work_mem: "16MB", xmloption: "document" });
      await eventually("work_mem 16MB on every instance", async () => {
        const values = await shown(env, "work_mem", pods);
        return values.every((value) => value === "16MB") || undefined;
      });
      await eventually("no lastError on any instance", async () => {
        const errors = await lastErrors();
        return errors.every((error) => error === undefined) || undefined;
      });
      await eventually("status.instances without errors", async () => {
        const errors = await clusterErrors();
        return errors.length === 2 && errors.every((e: string) => e === undefined) || undefined;
      });
      report(`PostgreSQL ${major}: fix applied to status.instances clean: ${seconds(since)} s`);

      // pg_hba.conf is dbop's alone (no spec field reaches it), so a bad line comes from an
      // edit of the ConfigMap, with the operator stopped; back, it writes its own again.
      const rw = await env.readWrite(NAME, tls ? "require" : "disable");
      await env.withoutOperator(async () => {
        const config = await env.resources.get(ConfigMaps, configMapName(NAME), {
          namespace: env.namespace,
        });
        const hba = `${config.data!["pg_hba.conf"]}host all all 10.0.0.0/33 scram-sha-256\n`;
        await test.kubectlOk([
          "patch",
          "configmap",
          configMapName(NAME),
          "-n",
          env.namespace,
          "--type=merge",
          "-p",
          JSON.stringify({ data: { "pg_hba.conf": hba } }),
        ]);
        const line = hba.trimEnd().split("\n").length;
        await everyError("the pg_hba.conf line reported", (error) =>
          error.endsWith(
            `pg_hba.conf line ${line}: invalid CIDR mask in address "10.0.0.0/33"; ` +
              "so the previous pg_hba.conf stays",
          ));
        assert.equal(await query(env.sandbox, rw, "SELECT 1"), "1", "the old rules still work");
        await eventually("an event per instance for pg_hba.conf", async () => {
          const events = await rejectionEvents(env);
          const hbaEvents = events.filter((e: { note: string }) => e.note.includes("pg_hba.conf"));
          return hbaEvents.length === 2 || undefined;
        });
      });
      await eventually("no lastError once the operator restored pg_hba.conf", async () => {
        const errors = await lastErrors();
        return errors.every((error) => error === undefined) || undefined;
      });
      assert.deepEqual(await startTimes(env, pods), started, "no postmaster restarted");
      assert.deepEqual(await podUids(env, pods), uids, "no pod was replaced");
    },
  });
}
