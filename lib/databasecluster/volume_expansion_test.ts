import assert from "node:assert/strict";
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { ForbiddenError, type Resources } from "../kube/mod.ts";
import { Refusals } from "./refusals.ts";
import { expandVolumes, plannedExpansions } from "./volume_expansion.ts";

function claim(name: string, size: string, storageClassName: string): V1PersistentVolumeClaim {
  return {
    metadata: { name, namespace: "db" },
    spec: { storageClassName, resources: { requests: { storage: size } } },
    status: { phase: "Bound" },
  };
}

const classes: Record<string, V1StorageClass> = {
  fast: { provisioner: "p", allowVolumeExpansion: true },
  fixed: { provisioner: "p" },
};

Deno.test("plannedExpansions() names why a class cannot grow a volume", () => {
  const planned = plannedExpansions(
    [
      claim("data-pg-0", "10Gi", "fixed"),
      claim("data-pg-1", "10Gi", "gone"),
      { ...claim("data-pg-2", "10Gi", ""), spec: { resources: { requests: { storage: "10Gi" } } } },
    ],
    "20Gi",
    (name) => classes[name],
  );
  assert.deepEqual(planned.map((e) => [e.claim.metadata?.name, e.to, e.blocked]), [
    ["data-pg-0", "20Gi", 'StorageClass "fixed" does not allow volume expansion'],
    ["data-pg-1", "20Gi", 'StorageClass "gone" does not exist'],
    ["data-pg-2", "20Gi", "the claim names no StorageClass"],
  ]);
});

Deno.test("plannedExpansions() lists smaller bound volumes and whether their class can expand", () => {
  const planned = plannedExpansions(
    [
      claim("data-pg-0", "10Gi", "fast"),
      claim("data-pg-1", "20Gi", "fast"),
      claim("data-pg-2", "10Gi", "fixed"),
    ],
    "20Gi",
    (name) => classes[name],
  );
  assert.deepEqual(planned.map((e) => [e.claim.metadata?.name, e.blocked]), [
    ["data-pg-0", undefined],
    ["data-pg-2", 'StorageClass "fixed" does not allow volume expansion'],
  ]);
});

Deno.test("plannedExpansions() compares sizes exactly, in any unit", () => {
  const planned = plannedExpansions(
    [
      claim("data-pg-0", "1024Mi", "fast"),
      // One byte under 16384Ti (2^54): equal to it as a double, smaller in fact.
      claim("data-pg-1", "18014398509481983", "fast"),
    ],
    "16384Ti",
    (name) => classes[name],
  );
  assert.deepEqual(planned.map((e) => e.claim.metadata?.name), ["data-pg-0", "data-pg-1"]);
  assert.deepEqual(
    plannedExpansions([claim("data-pg-0", "1024Mi", "fast")], "1Gi", (name) => classes[name]),
    [],
  );
});

Deno.test("expandVolumes() keeps the API server's refusal, and sends it again only for a new size", async () => {
  const quota = 'persistentvolumeclaims "data-pg-0" is forbidden: exceeded quota';
  const sent: string[] = [];
  const resources = {
    patch(_type: unknown, name: string, body: { spec: { resources: { requests: object } } }) {
      sent.push(`${name} ${JSON.stringify(body.spec.resources.requests)}`);
      return Promise.reject(new ForbiddenError(403, { message: quota }, false));
    },
  } as unknown as Resources;
  const memory = new Refusals();
  const grow = (size: string, now: number) =>
    expandVolumes(
      resources,
      plannedExpansions([claim("data-pg-0", "10Gi", "fast")], size, (n) => classes[n]),
      size,
      { refusals: memory.of("uid", now) },
    );
  const first = await grow("20Gi", 0);
  assert.deepEqual(first.changed, []);
  assert.deepEqual(first.refused.map((r) => [r.child, r.message]), [
    ['PersistentVolumeClaim "data-pg-0"', quota],
  ]);
  assert.equal((await grow("20Gi", 1_000)).refused.length, 1);
  await grow("30Gi", 2_000);
  assert.deepEqual(sent, ['data-pg-0 {"storage":"20Gi"}', 'data-pg-0 {"storage":"30Gi"}']);
});
