import assert from "node:assert/strict";
import { statusToken } from "./status_token.ts";

Deno.test("statusToken() is the environment's until the Secret is listed, then the Secret's", () => {
  assert.equal(statusToken("from-env", { listed: false }), "from-env", "not listed yet");
  assert.equal(statusToken("from-env", { listed: true, data: { token: "new" } }), "new");
});

Deno.test("statusToken() accepts nothing while the listed Secret is gone or holds no token", () => {
  assert.equal(statusToken("from-env", { listed: true }), undefined, "deleted: revoked");
  assert.equal(statusToken("from-env", { listed: true, data: {} }), undefined);
  assert.equal(statusToken("from-env", { listed: true, data: { token: "" } }), undefined);
});
