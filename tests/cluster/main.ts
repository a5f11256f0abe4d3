/**
 * `deno task cluster`: starts the local control plane for a developer and keeps
 * it running until Ctrl-C (or SIGTERM), then stops every component.
 * `deno task local` (`--operator`) also installs the CRD and runs dbop against
 * it, exactly as `deno task start` would, with its logs on this terminal.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startControlPlane } from "../harness/control_plane.ts";

const { values } = parseArgs({ args: Deno.args, options: { operator: { type: "boolean" } } });
const root = new URL("../../", import.meta.url).pathname;
const say = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(`${text}\n`));

const cp = await startControlPlane();
const stable = `${cp.dir}/../dbop-cluster.kubeconfig`;
await Deno.copyFile(cp.kubeconfigPath, stable);
const kubeconfig = await Deno.realPath(stable);
say([
  "",
  "Control plane running. In another shell:",
  `  export KUBECONFIG=${kubeconfig}`,
  `  ${cp.binDir}/kubectl get nodes`,
  values.operator
    ? `  ${cp.binDir}/kubectl apply -f ${root}deploy/samples/minimal.yaml && ${cp.binDir}/kubectl get dbc -w`
    : "",
  "Press Ctrl-C to stop.",
  "",
].join("\n"));

let operator: Deno.ChildProcess | undefined;
if (values.operator) {
  const crd = await cp.kubectl([
    "apply",
    "--server-side",
    "-f",
    `${root}crds/database.example.com_databaseclusters.yaml`,
  ]);
  if (crd.code !== 0) {
    await cp.stop();
    throw new Error(`Installing the CRD failed: ${crd.err}`);
  }
  await cp.kubectl(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  operator = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-read",
      "--allow-net",
      "--allow-run",
      "--allow-sys=hostname,osRelease,uid",
      `${root}mod.ts`,
      "run",
      `--kubeconfig=${kubeconfig}`,
      "--metrics-bind-address=127.0.0.1:8080",
      "--health-probe-bind-address=127.0.0.1:8081",
    ],
    stdin: "null",
  }).spawn();
}

const stopped = Promise.withResolvers<void>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stopped.resolve());
}
// Without an operator, only a signal ends the run (a race with `undefined` would end it at once).
await Promise.race(operator ? [stopped.promise, operator.status] : [stopped.promise]);
if (operator) {
  try {
    operator.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  await operator.status;
}
await cp.stop();
// The real path: `stable` goes through the control plane directory, which stop() removed.
await Deno.remove(kubeconfig).catch(() => {});
