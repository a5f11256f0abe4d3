/**
 * The command line as users meet it: bad flags and bad configuration give one
 * clear line and the documented exit code; `crds`, `render` and `version`
 * work with no cluster.
 *
 * @module
 */
import assert from "node:assert/strict";
import { renderCrdYaml } from "../lib/api/mod.ts";
import { parse } from "yaml";
import { BINARY_PERMISSIONS } from "../lib/instance/install.ts";
import { DBOP_PERMISSIONS, runDbop } from "./harness/dbop_process.ts";

function oneLine(text: string): string {
  const lines = text.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${text}`);
  return lines[0];
}

Deno.test("bad flags exit 2 with one line naming the flag and the accepted values", async () => {
  const cases: [string[], RegExp][] = [
    [["run", "--bogus"], /^dbop: Unknown flag "--bogus"/],
    [
      ["run", "--log-level", "loud"],
      /^dbop: Invalid value "loud" for --log-level: expected one of "debug", "info", "warning", "error"$/,
    ],
    [["run", "--log-format", "xml"], /--log-format: expected one of "auto", "json", "text"/],
    [
      ["run", "--max-concurrent-reconciles", "zero"],
      /--max-concurrent-reconciles: expected a whole number/,
    ],
    [["explode"], /^dbop: Unknown command "explode"/],
  ];
  for (const [args, message] of cases) {
    const res = await runDbop(args);
    assert.equal(res.code, 2, args.join(" "));
    assert.match(oneLine(res.stderr), message);
  }
});

Deno.test("a missing kubeconfig exits 2 and an unreachable server exits 1, each with one clear line", async () => {
  const missing = await runDbop(["run", "--kubeconfig", "/nonexistent/kubeconfig"]);
  assert.equal(missing.code, 2);
  assert.equal(
    oneLine(missing.stderr),
    'dbop: Kubeconfig "/nonexistent/kubeconfig" does not exist',
  );

  const dir = await Deno.makeTempDir();
  const kubeconfig = `${dir}/unreachable`;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Deno.writeTextFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${closedPort}` } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      "current-context": "c",
    }),
  );
  const unreachable = await runDbop([
    "run",
    "--kubeconfig",
    kubeconfig,
    "--log-format",
    "text",
    "--metrics-bind-address",
    "0",
    "--health-probe-bind-address",
    "0",
  ]);
  assert.equal(unreachable.code, 1);
  const line = oneLine(unreachable.stderr);
  assert.ok(
    line.startsWith(
      `dbop: Cannot reach the Kubernetes API server at https://127.0.0.1:${closedPort}`,
    ),
    line,
  );
  assert.match(line, /\(from kubeconfig ".*unreachable"\): .*refused/i);
  assert.doesNotMatch(unreachable.stderr, /\n\s+at /, "no stack trace");
  const noContext = await runDbop(["run", "--kubeconfig", kubeconfig, "--context", "other"]);
  assert.equal(noContext.code, 2);
  assert.match(oneLine(noContext.stderr), /Context "other" is not in kubeconfig ".*": have "c"/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("crds prints the committed CRD, render prints children without secrets, version names the API", async () => {
  const crds = await runDbop(["crds"]);
  assert.equal(crds.code, 0);
  assert.deepEqual(parse(crds.stdout), parse(renderCrdYaml()));
  const render = await runDbop([
    "render",
    "-f",
    new URL("../deploy/samples/production.yaml", import.meta.url).pathname,
  ]);
  assert.equal(render.code, 0, render.stderr);
  assert.match(render.stdout, /kind: StatefulSet/);
  assert.match(render.stdout, /password: <generated>/);
  const version = await runDbop(["version"]);
  assert.match(version.stdout, /^dbop \d+\.\d+\.\d+ \(Kubernetes API v1\.\d+\.\d+/);
  const missingFile = await runDbop(["render", "-f", "/nonexistent.yaml"]);
  assert.equal(missingFile.code, 2);
});

Deno.test("the start and dev tasks grant the operator's permissions, compile also the instance manager's", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  for (const task of ["start", "dev", "compile"]) {
    const words: string[] = config.tasks[task].split(/\s+/);
    const granted = words.filter((w) => w.startsWith("--allow"));
    assert.deepEqual(
      granted,
      task === "compile" ? [...BINARY_PERMISSIONS] : DBOP_PERMISSIONS,
      task,
    );
    // Words after mod.ts become dbop's own arguments (baked into a compiled binary).
    assert.equal(words.indexOf("mod.ts"), words.length - (task === "compile" ? 1 : 2), task);
  }
  assert.match(config.tasks.compile, /^deno compile \$DBOP_COMPILE_FLAGS /);
});
