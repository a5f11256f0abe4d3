import assert from "node:assert/strict";
import { BINARY_PERMISSIONS, installSelf, isDenoRuntime, launcherScript } from "./install.ts";

Deno.test("BINARY_PERMISSIONS are exactly the compile task's", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const flags = (config.tasks.compile as string).split(" ").filter((f) => f.startsWith("--allow"));
  assert.deepEqual(flags, [...BINARY_PERMISSIONS]);
});

Deno.test("isDenoRuntime() tells deno run from a compiled binary", () => {
  assert.equal(isDenoRuntime("/usr/bin/deno"), true);
  assert.equal(isDenoRuntime("deno"), true);
  assert.equal(isDenoRuntime("/usr/local/bin/dbop"), false);
  assert.equal(isDenoRuntime("/opt/deno-tools/dbop"), false);
});

Deno.test("launcherScript() reruns the entry point with the binary's permissions, quoted", () => {
  const script = launcherScript({
    execPath: "/usr/bin/deno",
    mainModule: "file:///src/it's/mod.ts",
  });
  assert.equal(
    script,
    `#!/bin/sh\nexec '/usr/bin/deno' run --quiet ${BINARY_PERMISSIONS.join(" ")} ` +
      `'/src/it'\\''s/mod.ts' "$@"\n`,
  );
});

Deno.test("installSelf() copies a binary, or writes a launcher under deno run, executable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const binary = `${dir}/dbop-binary`;
    await Deno.writeTextFile(binary, "not really an ELF");
    assert.equal(
      await installSelf(`${dir}/copied`, { execPath: binary, mainModule: "file:///x/mod.ts" }),
      "binary",
    );
    assert.equal(await Deno.readTextFile(`${dir}/copied`), "not really an ELF");
    assert.equal((await Deno.stat(`${dir}/copied`)).mode! & 0o777, 0o755);
    assert.equal(
      await installSelf(`${dir}/launcher`, {
        execPath: "/usr/bin/deno",
        mainModule: "file:///x/mod.ts",
      }),
      "launcher",
    );
    assert.match(
      await Deno.readTextFile(`${dir}/launcher`),
      /^#!\/bin\/sh\nexec '\/usr\/bin\/deno' run/,
    );
    assert.equal((await Deno.stat(`${dir}/launcher`)).mode! & 0o777, 0o755);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
