/**
 * No credential leaks into what people read: over a full life of a cluster
 * (bootstrap with TLS, application writes, rotation of the application
 * owner's password and of the status token, a switchover, a restart of a
 * standby), with the operator (a `dbop run` process) and the instance
 * managers at `debug` (the managers have no debug lines yet; the level is set
 * so that any added later is covered), no password, token or private key appears in any
 * output: the operator's, every container's (instance manager and PostgreSQL
 * server), the namespace's events and the cluster's status. Every value any
 * of the cluster's Secrets held at any point is looked for.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ANNOTATIONS, podName } from "../lib/databasecluster/names.ts";
import { databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { query } from "./harness/psql.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

/** Secret keys whose values are credentials; the rest (username, host, ca.crt...) are not. */
const SECRET_KEYS = ["password", "token", "tls.key"];

/** What to look for of a value: a private key's body lines, else the value itself. */
function needles(key: string, value: string): string[] {
  if (key !== "tls.key") return [value];
  return value.split("\n").filter((line) => line.length >= 40 && !line.startsWith("-----"));
}

Deno.test({
  name: "no password, token or private key appears in any log line, event or status, at debug",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "leaks", {
      major: 15,
      operatorProcess: true,
      logLevel: "debug",
    });
    const name = "pg";
    const pods = [0, 1].map((ordinal) => podName(name, ordinal));
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: { replicas: 2, version: "15", storage: { size: "1Gi" } },
    });
    await env.running(name, 2);

    const seen = new Map<string, string>();
    const collect = async () => {
      const list = await getJson(test, ["get", "secrets", "-n", env.namespace]);
      for (const secret of list.items ?? []) {
        for (const [key, encoded] of Object.entries(secret.data ?? {})) {
          if (!SECRET_KEYS.includes(key)) continue;
          for (const needle of needles(key, atob(encoded as string))) {
            if (needle.length >= 8) seen.set(needle, `${secret.metadata.name}/${key}`);
          }
        }
      }
    };
    await collect();
    const rw = await env.readWrite(name, "require");
    await query(env.sandbox, rw, "CREATE TABLE t AS SELECT 1 AS id");

    // Rotations: the application owner's password (handed to the primary first) and the token.
    for (const secret of [`${name}-app`, `${name}-status`]) {
      const before = await env.secret(secret);
      await test.kubectlOk(["delete", "secret", secret, "-n", env.namespace]);
      await eventually(`${secret} rotated`, async () => {
        const after = await env.secret(secret).catch(() => undefined);
        const key = secret.endsWith("-app") ? "password" : "token";
        return after && after[key] && after[key] !== before[key] ? true : undefined;
      }, { timeoutMs: 60_000 });
      await collect();
    }
    const rotated = await env.readWrite(name, "require");
    await eventually("the new password works", async () => {
      const out = await query(env.sandbox, rotated, "SELECT count(*) FROM t").catch(() => "");
      return out === "1" ? true : undefined;
    }, { timeoutMs: 60_000 });

    // A switchover, then the old primary restarted as a standby.
    await test.kubectlOk([
      "annotate",
      "databasecluster",
      name,
      "-n",
      env.namespace,
      `${ANNOTATIONS.promote}=${pods[1]}`,
      "--overwrite",
    ]);
    await env.running(name, 2, { primary: pods[1], timeoutMs: 120_000 });
    await env.killPod(pods[0]);
    await env.running(name, 2, { primary: pods[1], timeoutMs: 180_000 });
    await collect();

    const outputs: [string, string][] = [
      ["the operator's output", env.operatorProcess!.stderr + env.operatorProcess!.stdout],
      ["events", JSON.stringify(await getJson(test, ["get", "events", "-n", env.namespace]))],
      [
        "the cluster",
        JSON.stringify(await getJson(test, ["get", "dbc", name, "-n", env.namespace])),
      ],
    ];
    for (const pod of pods) {
      for (const container of ["dbop-install", "postgres"]) {
        outputs.push([`${pod}/${container}`, env.kubelet.logs(env.namespace, pod, container)]);
      }
    }
    const debugLines = outputs[0][1].split("\n").filter((l) => /"level":"DEBUG"/i.test(l));
    assert.ok(debugLines.length > 0, "the operator logged at debug");
    assert.ok(seen.size >= 8, `credentials collected: ${seen.size}`);
    const leaks: string[] = [];
    for (const [where, text] of outputs) {
      for (const [needle, from] of seen) {
        if (text.includes(needle)) leaks.push(`${from} in ${where}`);
      }
    }
    assert.deepEqual(leaks, []);
    Deno.stderr.writeSync(new TextEncoder().encode(
      `[leaks] ${seen.size} credential values (passwords, tokens, key lines) looked for in ` +
        `${outputs.length} outputs of ${
          outputs.reduce((n, [, text]) => n + text.split("\n").length, 0)
        } lines (${debugLines.length} operator debug lines): none found\n`,
    ));
  },
});
