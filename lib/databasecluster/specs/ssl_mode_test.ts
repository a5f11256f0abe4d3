import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { clientSslMode } from "./ssl_mode.ts";

Deno.test("clientSslMode() disables TLS, verifies our CA, or only requires a user's certificate", () => {
  assert.equal(clientSslMode(testCluster({ security: { tls: { enabled: false } } })), "disable");
  assert.equal(clientSslMode(testCluster({ security: { tls: { enabled: true } } })), "verify-ca");
  assert.equal(
    clientSslMode(testCluster({ security: { tls: { enabled: true, secretName: "my-tls" } } })),
    "require",
  );
});
