import assert from "node:assert/strict";
import { buildClusterRole, renderRoles } from "./rbac_manifests.ts";
import { CLUSTER_RULES } from "../databasecluster/rbac.ts";

Deno.test("deploy/rbac/role.yaml is generated from the rule list (run deno task manifests when this fails)", async () => {
  const committed = await Deno.readTextFile(
    new URL("../../deploy/rbac/role.yaml", import.meta.url),
  );
  assert.equal(committed, renderRoles());
});

Deno.test("buildClusterRole() lists exactly the rules' verbs and resources, without wildcards", () => {
  const role = buildClusterRole() as {
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  };
  assert.equal(role.rules.length, CLUSTER_RULES.length);
  for (const rule of role.rules) {
    for (const value of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) {
      assert.notEqual(value, "*");
    }
  }
});
