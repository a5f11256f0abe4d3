import assert from "node:assert/strict";
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { plannedExpansions, quantityBytes } from "./storage.ts";

Deno.test("quantityBytes() reads binary, decimal and plain quantities", () => {
  assert.equal(quantityBytes("1Gi"), 2 ** 30);
  assert.equal(quantityBytes("500M"), 5e8);
  assert.equal(quantityBytes("1073741824"), 2 ** 30);
  assert.equal(quantityBytes("2Ti"), 2 * 2 ** 40);
  assert.throws(() => quantityBytes("ten gigs"), /Cannot read storage quantity "ten gigs"/);
});

Deno.test("plannedExpansions() lists smaller bound volumes and whether their class can expand", () => {
  const claim = (
    name: string,
    size: string,
    storageClassName: string,
  ): V1PersistentVolumeClaim => ({
    metadata: { name, namespace: "db" },
    spec: { storageClassName, resources: { requests: { storage: size } } },
    status: { phase: "Bound" },
  });
  const classes: Record<string, V1StorageClass> = {
    fast: { provisioner: "p", allowVolumeExpansion: true },
    fixed: { provisioner: "p" },
  };
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
