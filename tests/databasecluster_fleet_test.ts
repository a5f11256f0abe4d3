/**
 * Many clusters at once: 50 DatabaseClusters created together all converge
 * (prints the time), and a converged fleet costs zero writes over a quiet
 * minute that includes periodic resyncs (counted from the operator's own
 * `rest_client_requests_total`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";
import { startOperator } from "./harness/operator.ts";
import { ensureCrd, getJson, type Obj } from "./harness/clusters.ts";

const cluster = testCluster();
const FLEET = 50;
const QUIET_MS = 60_000;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[fleet] ${line}\n`));
}

Deno.test({
  name:
    `${FLEET} clusters created at once converge, then a quiet minute with resyncs writes nothing`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await ensureCrd(cluster);
    const ns = await createNamespace(cluster, "dbc-fleet");
    const operator = startOperator(cluster.kubeconfigPath, {
      namespaces: [ns],
      resyncPeriodMs: 20_000,
    });
    try {
      const template = parse(
        await Deno.readTextFile(new URL("../deploy/samples/minimal.yaml", import.meta.url)),
      ) as Obj;
      const items = Array.from({ length: FLEET }, (_, i) => ({
        ...template,
        metadata: { name: `pg-${String(i).padStart(3, "0")}`, namespace: ns },
      }));
      const started = performance.now();
      await cluster.kubectlOk(["apply", "-f", "-"], {
        stdin: JSON.stringify({ apiVersion: "v1", kind: "List", items }),
      });
      await eventually(`${FLEET} clusters Running`, async () => {
        const list = await getJson(cluster, ["get", "dbc", "-n", ns]);
        const running = list.items.filter((d: Obj) =>
          d.status?.phase === "Running" && d.status.observedGeneration === d.metadata.generation
        );
        return running.length === FLEET ? true : undefined;
      }, { timeoutMs: 300_000, intervalMs: 500 });
      const seconds = (performance.now() - started) / 1000;
      report(`${FLEET} clusters from creation to all Running: ${seconds.toFixed(1)} s`);

      // Let the last status writes and pod-role labels settle, then count.
      await new Promise((r) => setTimeout(r, 5_000));
      const before = await operator.writes();
      const reconcilesBefore = await reconciles(operator.metrics.registry.metrics());
      await new Promise((r) => setTimeout(r, QUIET_MS));
      const writes = (await operator.writes()) - before;
      const reconciled = (await reconciles(operator.metrics.registry.metrics())) - reconcilesBefore;
      report(
        `quiet ${
          QUIET_MS / 1000
        } s with ${FLEET} converged clusters: ${writes} writes, ${reconciled} reconciles`,
      );
      assert.ok(
        reconciled >= FLEET * 2,
        `resyncs reconciled every cluster at least twice (${reconciled})`,
      );
      assert.equal(writes, 0, "a converged fleet issues zero writes");
    } finally {
      await operator.stop();
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  },
});

async function reconciles(text: Promise<string>): Promise<number> {
  return (await text).split("\n")
    .filter((l) => l.startsWith('controller_runtime_reconcile_total{controller="databasecluster"'))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}
