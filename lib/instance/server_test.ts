import assert from "node:assert/strict";
import type { InstanceStatus } from "../api/mod.ts";
import { statusHandler } from "./server.ts";

const status: InstanceStatus = { pod: "pg-0", postgres: "running", role: "primary" };
const info = {} as Deno.ServeHandlerInfo<Deno.NetAddr>;

function handler(
  ready = true,
  restarts: string[] = [],
  handedOver: string[][] = [],
  token: () => string | undefined = () => "s3cret",
) {
  return statusHandler({
    status: () => Promise.resolve(status),
    ready: () => ready,
    restart: () => {
      restarts.push("restart");
      return ready;
    },
    handOver: (secret, password) => {
      handedOver.push([secret, password]);
      return Promise.resolve(
        ready
          ? { applied: true }
          : { applied: false, status: 409, reason: "Not a running primary" },
      );
    },
  }, token);
}

async function get(path: string, headers: Record<string, string> = {}, ready = true) {
  const response = await handler(ready)(
    new Request(`http://127.0.0.1${path}`, { headers }),
    info,
  );
  return { code: response.status, body: await response.text() };
}

const TOKEN = { authorization: "Bearer s3cret" };

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

Deno.test("statusHandler() accepts the token it is given now, and none when there is none", async () => {
  let current: string | undefined = "old";
  const serve = handler(true, [], [], () => current);
  const code = async (token: string) =>
    (await serve(
      new Request("http://127.0.0.1/status", { headers: { authorization: `Bearer ${token}` } }),
      info,
    )).status;
  assert.equal(await code("old"), 200);
  current = undefined;
  assert.equal(await code("old"), 401, "no token known: everyone is refused");
  assert.equal(await code("undefined"), 401);
  current = "new";
  assert.equal(await code("old"), 401, "the old token is refused");
  assert.equal(await code("new"), 200);
  const ready = await serve(new Request("http://127.0.0.1/readyz"), info);
  assert.equal(ready.status, 200, "the probes need no token");
});

Deno.test("statusHandler() serves readiness without a token and nothing else", async () => {
  assert.equal((await get("/readyz")).code, 200);
  assert.equal((await get("/readyz", {}, false)).code, 503);
  assert.equal((await get("/healthz", {}, false)).code, 200);
  assert.equal((await get("/other", { authorization: "Bearer s3cret" })).code, 404);
});

Deno.test("statusHandler() restarts on POST /restart with the token only", async () => {
  const post = async (headers: Record<string, string>, running = true) => {
    const restarts: string[] = [];
    const response = await handler(running, restarts)(
      new Request("http://127.0.0.1/restart", { method: "POST", headers }),
      info,
    );
    await response.body?.cancel();
    return { code: response.status, restarts: restarts.length };
  };
  assert.deepEqual(await post(TOKEN), { code: 202, restarts: 1 });
  assert.deepEqual(await post(TOKEN, false), { code: 409, restarts: 1 });
  assert.deepEqual(await post({}), { code: 401, restarts: 0 });
  assert.deepEqual(await post({ authorization: "Bearer wrong" }), { code: 401, restarts: 0 });
  assert.equal((await get("/restart", TOKEN)).code, 405, "GET does not restart");
  const posted = await handler()(
    new Request("http://127.0.0.1/status", { method: "POST", headers: TOKEN }),
    info,
  );
  assert.equal(posted.status, 405);
});

Deno.test("statusHandler() takes a handed-over password on POST /passwords with the token only", async () => {
  const post = async (headers: Record<string, string>, body: string, running = true) => {
    const handedOver: string[][] = [];
    const response = await handler(running, [], handedOver)(
      new Request("http://127.0.0.1/passwords", { method: "POST", headers, body }),
      info,
    );
    return { code: response.status, body: await response.text(), handedOver };
  };
  const body = JSON.stringify({ secret: "pg-app", password: "new" });
  assert.deepEqual(await post(TOKEN, body), {
    code: 204,
    body: "",
    handedOver: [["pg-app", "new"]],
  });
  assert.deepEqual(await post(TOKEN, body, false), {
    code: 409,
    body: "Not a running primary\n",
    handedOver: [["pg-app", "new"]],
  });
  assert.deepEqual((await post({}, body)).code, 401);
  assert.deepEqual((await post({}, body)).handedOver, []);
  assert.equal((await post(TOKEN, "{")).code, 400);
  assert.equal((await post(TOKEN, JSON.stringify({ secret: "pg-app", password: "" }))).code, 400);
});
