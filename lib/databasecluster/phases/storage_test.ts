import assert from "node:assert/strict";
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { plannedExpansions } from "./storage.ts";

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
  assert.deepEqual(planned.map((e) => [e.claim.metadata?.name, e.allowed]), [
    ["data-pg-0", true],
    ["data-pg-2", false],
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
