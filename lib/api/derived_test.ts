import assert from "node:assert/strict";
import { generatedUsername, pdbEnabled } from "./derived.ts";
import { DatabaseClusterSpec } from "./spec.ts";

const base = { version: "17", storage: { size: "1Gi" } };

Deno.test("pdbEnabled() follows ha.pdb, else wants a budget only with more than one instance", () => {
  assert.equal(pdbEnabled(DatabaseClusterSpec.parse(base)), false);
  assert.equal(pdbEnabled(DatabaseClusterSpec.parse({ ...base, replicas: 2 })), true);
  assert.equal(pdbEnabled(DatabaseClusterSpec.parse({ ...base, ha: { pdb: true } })), true);
  assert.equal(
    pdbEnabled(DatabaseClusterSpec.parse({ ...base, replicas: 3, ha: { pdb: false } })),
    false,
  );
});

Deno.test("generatedUsername() is the username or app, and undefined with existingSecret", () => {
  assert.equal(generatedUsername(DatabaseClusterSpec.parse(base)), "app");
  const named = { ...base, security: { authentication: { username: "shop" } } };
  assert.equal(generatedUsername(DatabaseClusterSpec.parse(named)), "shop");
  const secret = { ...base, security: { authentication: { existingSecret: "creds" } } };
  assert.equal(generatedUsername(DatabaseClusterSpec.parse(secret)), undefined);
});
