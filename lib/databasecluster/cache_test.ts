import assert from "node:assert/strict";
import { referencedSecrets } from "./cache.ts";

Deno.test("referencedSecrets() lists a cluster's existingSecret as namespace/name", () => {
  const cluster = (security: unknown) => ({
    metadata: { namespace: "shop", name: "pg" },
    spec: { security },
  });
  assert.deepEqual(
    referencedSecrets(cluster({
      authentication: { existingSecret: "app-credentials" },
      tls: { enabled: true, secretName: "pg-tls" },
    })),
    ["shop/app-credentials"],
  );
  assert.deepEqual(referencedSecrets(cluster(undefined)), []);
  assert.deepEqual(referencedSecrets(cluster({ authentication: { existingSecret: 7 } })), []);
});
