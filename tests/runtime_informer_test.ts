/**
 * The informer keeps its cache identical to the server through faults: the
 * API server killed and restarted mid-watch, a watch that goes silent (API
 * server frozen with SIGSTOP), and an etcd compaction forcing 410 Gone on
 * resume. Writes are made through a second API server on the same etcd while
 * the informer's one is down, so every fault hides a burst of creates, updates
 * and deletes that the informer must reflect exactly.
 *
 * Prints the measured recovery times.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { type Resources, type ResourceType } from "../lib/kube/mod.ts";
import { ConfigMaps, Secrets } from "../lib/databasecluster/kinds.ts";
import { Informer } from "../lib/runtime/informer.ts";
import { GoneError } from "../lib/kube/mod.ts";
import { eventually, resourcesFor, startControlPlane } from "./harness/mod.ts";

type Obj = V1ConfigMap | V1Secret;
const LABEL = "dbop.test/informer=yes";

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[informer recovery] ${line}\n`));
}

function snapshot(items: Obj[]): string {
  return items.map((o) => `${o.metadata!.name}@${o.metadata!.resourceVersion}`).sort().join(",");
}

async function serverState(resources: Resources, type: ResourceType, ns: string): Promise<string> {
  const list = await resources.list<Obj>(type as ResourceType<Obj>, {
    namespace: ns,
    labelSelector: LABEL,
  });
  return snapshot(list.items);
}

/** Creates 10, updates 5 and deletes 5 of the objects named `prefix-*`, plus deletes `victims`. */
async function burst(
  resources: Resources,
  type: ResourceType<Obj>,
  ns: string,
  prefix: string,
  victims: string[],
): Promise<void> {
  const labels = { "dbop.test/informer": "yes" };
  for (let i = 0; i < 10; i++) {
    await resources.create(type, {
      metadata: { name: `${prefix}-${i}`, namespace: ns, labels },
      data: type === Secrets ? { v: btoa(String(i)) } : { v: String(i) },
    } as Obj);
  }
  for (let i = 0; i < 5; i++) {
    await resources.patch(type, `${prefix}-${i}`, { metadata: { annotations: { touched: "1" } } }, {
      namespace: ns,
    });
  }
  for (let i = 5; i < 10; i++) await resources.delete(type, `${prefix}-${i}`, { namespace: ns });
  for (const name of victims) await resources.delete(type, name, { namespace: ns });
}

Deno.test({
  name: "the informer cache stays identical to the server through API server faults",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const cp = await startControlPlane({
      secondApiServer: true,
      // Secrets bypass the watch cache, so their watches are served by etcd and feel compaction.
      apiserverFlags: ["--watch-cache-sizes=secrets#0"],
    });
    const viaA = resourcesFor(cp.kubeconfigPath);
    const viaB = resourcesFor(cp.kubeconfigPathB);
    const stop = new AbortController();
    try {
      const ns = "informer-faults";
      await viaB.create(
        { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
        { metadata: { name: ns } },
      );
      const errors: unknown[] = [];
      const start = <T extends Obj>(type: ResourceType<T>) => {
        const informer = new Informer<T>(viaA, type, {
          namespace: ns,
          labelSelector: LABEL,
          inactivityTimeoutMs: 5_000,
          onError: (e) => errors.push(e),
        });
        informer.run(stop.signal);
        return informer;
      };
      const configMaps = start(ConfigMaps);
      const secrets = start(Secrets);
      await Promise.all([configMaps.waitForSync(), secrets.waitForSync()]);
      const seed = async (type: ResourceType<Obj>, prefix: string) => {
        for (let i = 0; i < 3; i++) {
          await viaB.create(type, {
            metadata: {
              name: `${prefix}-${i}`,
              namespace: ns,
              labels: { "dbop.test/informer": "yes" },
            },
          } as Obj);
        }
      };
      await seed(ConfigMaps, "seed");
      await seed(Secrets, "seed");

      const converged = async (informer: Informer<Obj>, type: ResourceType) => {
        const started = performance.now();
        await eventually(`${type.kind} cache to match the server`, async () => {
          const server = await serverState(viaB, type, ns);
          return snapshot(informer.store.list()) === server ? true : undefined;
        }, { timeoutMs: 90_000, intervalMs: 50 });
        return performance.now() - started;
      };
      await converged(configMaps as Informer<Obj>, ConfigMaps);
      await converged(secrets as Informer<Obj>, Secrets);

      await t.step("API server killed and restarted mid-watch", async () => {
        const events: string[] = [];
        configMaps.addHandler((e) => events.push(`${e.type}:${e.object.metadata!.name}`));
        await cp.kill("kube-apiserver");
        await burst(viaB, ConfigMaps, ns, "restart", ["seed-0"]);
        const restarted = performance.now();
        cp.start("kube-apiserver");
        await cp.waitReady();
        await converged(configMaps as Informer<Obj>, ConfigMaps);
        report(
          `apiserver restart: cache identical ${
            (performance.now() - restarted).toFixed(0)
          } ms after the restart began`,
        );
        assert.ok(events.includes("deleted:seed-0"), "the delete made during the outage was seen");
        assert.ok(events.includes("added:restart-0"));
        assert.ok(
          !configMaps.store.get(`${ns}/restart-7`),
          "objects created and deleted in the outage are absent",
        );
      });

      await t.step(
        "a watch that goes silent (API server frozen) is detected and resumed",
        async () => {
          const before = errors.length;
          cp.pause("kube-apiserver");
          await burst(viaB, ConfigMaps, ns, "silent", ["seed-1"]);
          await new Promise((r) => setTimeout(r, 7_000));
          const resumed = performance.now();
          cp.resume("kube-apiserver");
          await converged(configMaps as Informer<Obj>, ConfigMaps);
          report(
            `silent watch (inactivity timeout 5 s, frozen 7 s): cache identical ${
              (performance.now() - resumed).toFixed(0)
            } ms after SIGCONT`,
          );
          assert.ok(
            errors.slice(before).some((e) => String(e).includes("silent")),
            `the inactivity timeout fired; errors: ${errors.slice(before).map(String).join("; ")}`,
          );
        },
      );

      await t.step("an etcd compaction forces 410 Gone on resume and a relist", async () => {
        const before = errors.length;
        await cp.kill("kube-apiserver");
        await burst(viaB, Secrets, ns, "compacted", ["seed-0", "seed-2"]);
        const revision = await cp.compactEtcd();
        const restarted = performance.now();
        cp.start("kube-apiserver");
        await cp.waitReady();
        await converged(secrets as Informer<Obj>, Secrets);
        report(
          `etcd compaction at revision ${revision}: relisted, cache identical ${
            (performance.now() - restarted).toFixed(0)
          } ms after the restart began`,
        );
        assert.ok(
          errors.slice(before).some((e) => e instanceof GoneError),
          "the resume got 410 Gone",
        );
        assert.equal(secrets.store.get(`${ns}/seed-0`), undefined);
        assert.ok(secrets.store.get(`${ns}/compacted-0`));
      });
    } finally {
      stop.abort();
      viaA.client.close();
      viaB.client.close();
      await cp.stop();
    }
  },
});
