import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import type { Resources } from "../kube/mod.ts";
import { labelPodRoles, roleChanges } from "./pod_roles.ts";

const ROLE = "database.example.com/role";

function pod(name: string, role?: string, deleting = false): V1Pod {
  return {
    metadata: {
      name,
      namespace: "shop",
      labels: role ? { [ROLE]: role } : {},
      ...(deleting ? { deletionTimestamp: new Date("2026-01-01T00:00:00Z") } : {}),
    },
  };
}

function fakeResources() {
  const patches: { kind: string; name: string; body: unknown; namespace?: string }[] = [];
  const resources = {
    patch(type: { kind: string }, name: string, body: unknown, options: { namespace?: string }) {
      patches.push({ kind: type.kind, name, body, namespace: options.namespace });
      return Promise.resolve({});
    },
  } as unknown as Resources;
  return { resources, patches };
}

Deno.test("roleChanges() labels the primary primary and every other pod a replica", () => {
  const changes = roleChanges("pg-0", [pod("pg-0"), pod("pg-1"), pod("pg-2", "primary")]);
  assert.deepEqual(changes.map(({ pod, role }) => [pod.metadata?.name, role]), [
    ["pg-0", "primary"],
    ["pg-1", "replica"],
    ["pg-2", "replica"],
  ]);
});

Deno.test("roleChanges() skips pods whose label is right and pods being deleted", () => {
  const changes = roleChanges("pg-0", [
    pod("pg-0", "primary"),
    pod("pg-1", "replica"),
    pod("pg-2", undefined, true),
  ]);
  assert.deepEqual(changes, []);
});

Deno.test("roleChanges() labels every pod a replica while no pod is the primary", () => {
  const changes = roleChanges(undefined, [pod("pg-0", "primary"), pod("pg-1", "replica")]);
  assert.deepEqual(changes.map(({ pod, role }) => [pod.metadata?.name, role]), [
    ["pg-0", "replica"],
  ]);
});

Deno.test("labelPodRoles() patches only the pods whose role label is missing or wrong", async () => {
  const { resources, patches } = fakeResources();
  const changed = await labelPodRoles(resources, "pg-0", [
    pod("pg-0", "replica"),
    pod("pg-1", "replica"),
    pod("pg-2"),
  ]);
  assert.equal(changed, 2);
  assert.deepEqual(patches, [
    {
      kind: "Pod",
      name: "pg-0",
      body: { metadata: { labels: { [ROLE]: "primary" } } },
      namespace: "shop",
    },
    {
      kind: "Pod",
      name: "pg-2",
      body: { metadata: { labels: { [ROLE]: "replica" } } },
      namespace: "shop",
    },
  ]);
});

Deno.test("labelPodRoles() writes nothing when every label is right", async () => {
  const { resources, patches } = fakeResources();
  assert.equal(
    await labelPodRoles(resources, "pg-0", [pod("pg-0", "primary"), pod("pg-1", "replica")]),
    0,
  );
  assert.deepEqual(patches, []);
});
