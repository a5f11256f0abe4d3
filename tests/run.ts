/**
 * `deno task test [files...]`: builds the control plane (once, cached), starts
 * it on 127.0.0.1 unless `TEST_KUBECONFIG` names another cluster, runs
 * `deno test` against it (unit tests in lib/ and bench/, integration tests in tests/),
 * and stops it, printing each component's log tail when a test failed.
 *
 * @module
 */
import { ensureBinaries, startControlPlane } from "./harness/control_plane.ts";
import { ENV_BIN_DIR, ENV_KUBECONFIG } from "./harness/mod.ts";

const say = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(`[test] ${line}\n`));

const binDir = await ensureBinaries(say);
const external = Deno.env.get("TEST_KUBECONFIG");
const controlPlane = external ? undefined : await startControlPlane({ binDir, log: say });
const kubeconfig = external ?? controlPlane!.kubeconfigPath;
say(
  external ? `using TEST_KUBECONFIG=${external}` : `using the local control plane (${kubeconfig})`,
);

const junit = await Deno.makeTempFile({ prefix: "dbop-junit-", suffix: ".xml" });
const files = Deno.args.length > 0 ? Deno.args : ["lib/", "bench/", "tests/"];
const env: Record<string, string> = { [ENV_KUBECONFIG]: kubeconfig, [ENV_BIN_DIR]: binDir };
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "--allow-all", `--junit-path=${junit}`, ...files],
  env,
  stdin: "null",
}).spawn();

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    interrupted = true;
    child.kill(signal);
  });
}
const status = await child.status;
const failed = !status.success || interrupted;
await controlPlane?.stop({ printLogs: failed });

const counts = await countResults(junit);
await Deno.remove(junit).catch(() => {});
// A plain closing line that any CI log reader understands.
Deno.stdout.writeSync(
  new TextEncoder().encode(`dbop tests: ${counts.passed} passed, ${counts.failed} failed\n`),
);
Deno.exit(failed ? (status.code || 1) : 0);

async function countResults(path: string): Promise<{ passed: number; failed: number }> {
  const xml = await Deno.readTextFile(path).catch(() => "");
  const total = [...xml.matchAll(/<testcase\b/g)].length;
  const failures = [...xml.matchAll(/<testcase\b[^>]*>\s*<failure\b/g)].length;
  return { passed: total - failures, failed: failures };
}
