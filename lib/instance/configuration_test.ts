import assert from "node:assert/strict";
import { configFiles, writeChangedFiles } from "./configuration.ts";

const CONFIG = {
  "postgresql.conf": "work_mem = '4MB'\n",
  "pg_hba.conf": "local all all peer\n",
  "pg_ident.conf": "monitoring postgres dbop_monitor\n",
};
const TLS = { "tls.crt": "CERT", "tls.key": "KEY", "ca.crt": "CA" };

Deno.test("configFiles() keeps the ConfigMap's files and the certificate, the key 0600", () => {
  const files = configFiles({
    config: { dir: "/c", data: { ...CONFIG, "backup.sh": "#!/bin/sh\n" } },
    tls: { dir: "/t", data: TLS },
  });
  assert.deepEqual(files, [
    { path: "/c/postgresql.conf", text: CONFIG["postgresql.conf"], mode: 0o644 },
    { path: "/c/pg_hba.conf", text: CONFIG["pg_hba.conf"], mode: 0o644 },
    { path: "/c/pg_ident.conf", text: CONFIG["pg_ident.conf"], mode: 0o644 },
    { path: "/t/tls.crt", text: "CERT", mode: 0o644 },
    { path: "/t/tls.key", text: "KEY", mode: 0o600 },
    { path: "/t/ca.crt", text: "CA", mode: 0o644 },
  ]);
  const noCa = configFiles({
    config: { dir: "/c", data: CONFIG },
    tls: { dir: "/t", data: { "tls.crt": "CERT", "tls.key": "KEY" } },
  });
  assert.ok(Array.isArray(noCa) && noCa.every((file) => !file.path.endsWith("ca.crt")));
  assert.equal((configFiles({ config: { dir: "/c", data: CONFIG } }) as unknown[]).length, 3);
  assert.deepEqual(configFiles({}), [], "nothing followed, nothing written");
});

Deno.test("configFiles() writes nothing while an object or a key PostgreSQL needs is missing", () => {
  const config = { dir: "/c", data: CONFIG };
  assert.deepEqual(configFiles({ config: { dir: "/c", data: undefined } }), {
    missing: "the ConfigMap: it is not seen",
  });
  assert.deepEqual(configFiles({ config: { dir: "/c", data: { "postgresql.conf": "x" } } }), {
    missing: "the ConfigMap: pg_hba.conf, pg_ident.conf",
  });
  assert.deepEqual(configFiles({ config, tls: { dir: "/t", data: undefined } }), {
    missing: "the TLS Secret: it is not seen",
  });
  assert.deepEqual(configFiles({ config, tls: { dir: "/t", data: { "tls.crt": "C" } } }), {
    missing: "the TLS Secret: tls.key",
  });
});

Deno.test("writeChangedFiles() writes only what changed, with its mode, and no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = [
      { path: `${dir}/config/postgresql.conf`, text: "a", mode: 0o644 },
      { path: `${dir}/tls/tls.key`, text: "k", mode: 0o600 },
    ];
    assert.deepEqual(await writeChangedFiles(files), files.map((f) => f.path));
    assert.deepEqual(await writeChangedFiles(files), []);
    assert.equal((await Deno.stat(`${dir}/tls/tls.key`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/config/postgresql.conf`)).mode! & 0o777, 0o644);
    const changed = [{ ...files[0], text: "b" }, files[1]];
    assert.deepEqual(await writeChangedFiles(changed), [files[0].path]);
    assert.equal(await Deno.readTextFile(files[0].path), "b");
    const names = [];
    for await (const entry of Deno.readDir(`${dir}/config`)) names.push(entry.name);
    assert.deepEqual(names, ["postgresql.conf"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
