import assert from "node:assert/strict";
import type { InstanceStatus } from "../api/mod.ts";
import { statusHandler } from "./server.ts";

const status: InstanceStatus = { pod: "pg-0", postgres: "running", role: "primary" };
const info = {} as Deno.ServeHandlerInfo<Deno.NetAddr>;

function handler(ready = true) {
  return statusHandler({ status: () => Promise.resolve(status), ready: () => ready }, "s3cret");
}

async function get(path: string, headers: Record<string, string> = {}, ready = true) {
  const response = await handler(ready)(
    new Request(`http://127.0.0.1${path}`, { headers }),
    info,
  );
  return { code: response.status, body: await response.text() };
}

Deno.test("statusHandler() answers /status only to the cluster's bearer token", async () => {
  assert.deepEqual(await get("/status", { authorization: "Bearer s3cret" }), {
    code: 200,
    body: JSON.stringify(status),
  });
  for (
    const headers of <Record<string, string>[]> [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "Bearer s3cret2" },
      { authorization: "Basic s3cret" },
      { authorization: "s3cret" },
      { authorization: "Bearer " },
    ]
  ) {
    assert.equal((await get("/status", headers)).code, 401, JSON.stringify(headers));
  }
});

Deno.test("statusHandler() serves readiness without a token and nothing else", async () => {
  assert.equal((await get("/readyz")).code, 200);
  assert.equal((await get("/readyz", {}, false)).code, 503);
  assert.equal((await get("/healthz", {}, false)).code, 200);
  assert.equal((await get("/other", { authorization: "Bearer s3cret" })).code, 404);
});
