import assert from "node:assert/strict";
import { loadInCluster, TOKEN_REREAD_MS } from "./in_cluster.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** A service-account directory as the kubelet writes it; `files` replaces or (undefined) omits one. */
async function serviceAccountDir(files: Record<string, string | undefined> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dbop-sa-" });
  const all = { token: "token-1", "ca.crt": CA, namespace: "pg-prod", ...files };
  for (const [name, text] of Object.entries(all)) {
    if (text !== undefined) await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

const POD_ENV = envOf({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" });

Deno.test("loadInCluster() builds the server URL from the service environment, IPv6 in brackets", async () => {
  const dir = await serviceAccountDir();
  try {
    const server = (vars: Record<string, string>) =>
      loadInCluster({ serviceAccountDir: dir, env: envOf(vars) }).server;
    assert.equal(
      server({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "6443" }),
      "https://10.96.0.1:6443",
    );
    assert.equal(
      server({ KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PORT: "443" }),
      "https://[fd00:10:96::1]:443",
    );
    assert.equal(server({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }), "https://10.96.0.1:443");
    assert.throws(() => server({}), /"KUBERNETES_SERVICE_HOST" is not set/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadInCluster() reads the token, the CA and the namespace", async () => {
  const dir = await serviceAccountDir({ token: "token-1\n", namespace: "pg-prod\n" });
  try {
    const credentials = loadInCluster({ serviceAccountDir: dir, env: POD_ENV });
    assert.equal(credentials.namespace, "pg-prod");
    assert.equal(credentials.serviceAccountDir, dir);
    assert.deepEqual(await credentials.authenticate(), {
      headers: { Authorization: "Bearer token-1" },
      ca: CA,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadInCluster() names the missing or empty file", async () => {
  for (
    const [files, message] of [
      [{ token: undefined }, /Service-account file ".*\/token" does not exist/],
      [{ "ca.crt": undefined }, /Service-account file ".*\/ca\.crt" does not exist/],
      [{ token: " \n" }, /Service-account token ".*\/token" is empty/],
    ] as const
  ) {
    const dir = await serviceAccountDir(files);
    try {
      assert.throws(() => loadInCluster({ serviceAccountDir: dir, env: POD_ENV }), message);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const dir = await serviceAccountDir({ namespace: undefined });
  try {
    assert.equal(loadInCluster({ serviceAccountDir: dir, env: POD_ENV }).namespace, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("authenticate() follows a rotated token after a minute, and at once after invalidate()", async () => {
  const dir = await serviceAccountDir();
  let now = 1_000;
  const credentials = loadInCluster({ serviceAccountDir: dir, env: POD_ENV, now: () => now });
  const bearer = async () => (await credentials.authenticate()).headers.Authorization;
  try {
    await Deno.writeTextFile(`${dir}/token`, "token-2");
    now += TOKEN_REREAD_MS - 1;
    assert.equal(await bearer(), "Bearer token-1", "reused within the minute");
    now += 1;
    assert.equal(await bearer(), "Bearer token-2", "read again after a minute");
    await Deno.writeTextFile(`${dir}/token`, "token-3");
    assert.equal(await bearer(), "Bearer token-2");
    credentials.invalidate();
    assert.equal(await bearer(), "Bearer token-3", "read again after a 401");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("authenticate() rejects naming the file when a re-read fails, and recovers", async () => {
  const dir = await serviceAccountDir();
  const credentials = loadInCluster({ serviceAccountDir: dir, env: POD_ENV });
  try {
    await Deno.remove(`${dir}/ca.crt`);
    credentials.invalidate();
    await assert.rejects(credentials.authenticate(), /Service-account file ".*\/ca\.crt"/);
    await Deno.writeTextFile(`${dir}/ca.crt`, CA);
    assert.equal((await credentials.authenticate()).ca, CA);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
