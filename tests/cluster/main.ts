/**
 * `deno task cluster`: starts the local control plane for a developer and keeps
 * it running until Ctrl-C (or SIGTERM), then stops every component.
 * `deno task local` (`--operator`) also installs the CRD, runs dbop against
 * it, exactly as `deno task start` would, with its logs on this terminal, and
 * runs the pods of the namespace `kubelet-local` for real with the emulated
 * kubelet: PostgreSQL 15 processes on loopback pod IPs, managed by
 * `dbop instance run` (under `deno run`), reachable through their Services'
 * ClusterIPs.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startControlPlane } from "../harness/control_plane.ts";
import { localImages } from "../harness/database_pods.ts";
import { type Kubelet, startKubelet } from "../harness/kubelet/mod.ts";
import { Sandbox } from "../harness/postgres.ts";

const { values } = parseArgs({ args: Deno.args, options: { operator: { type: "boolean" } } });
const root = new URL("../../", import.meta.url).pathname;
const say = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(`${text}\n`));

const cp = await startControlPlane();
const stable = `${cp.dir}/../dbop-cluster.kubeconfig`;
await Deno.copyFile(cp.kubeconfigPath, stable);
const kubeconfig = await Deno.realPath(stable);
const NAMESPACE = "kubelet-local";
const kubectl = `${cp.binDir}/kubectl -n ${NAMESPACE}`;
const jsonpath = (what: string, path: string) => `$(${kubectl} get ${what} -o jsonpath='${path}')`;
say([
  "",
  "Control plane running. In another shell:",
  `  export KUBECONFIG=${kubeconfig}`,
  `  ${cp.binDir}/kubectl get nodes`,
  ...values.operator
    ? [
      "Pods in the namespace kubelet-local run real PostgreSQL 15 (the emulated kubelet; other",
      "namespaces' pods are faked by kwok):",
      `  ${kubectl} apply -f ${root}deploy/samples/local.yaml`,
      `  ${kubectl} wait --for=condition=Ready dbc/local --timeout=300s`,
      `  PGPASSWORD=${jsonpath("secret local-app", "{.data.password}")}`,
      `  PGPASSWORD=$(echo "$PGPASSWORD" | base64 -d) psql "host=${
        jsonpath("service local-rw", "{.spec.clusterIP}")
      } port=5432 user=app dbname=app sslmode=require"`,
      "(the primary through local-rw's ClusterIP, a loopback address; the password is in the",
      "Secret local-app)",
    ]
    : [],
  "Press Ctrl-C to stop.",
  "",
].join("\n"));

let operator: Deno.ChildProcess | undefined;
let kubelet: Kubelet | undefined;
let sandbox: Sandbox | undefined;
if (values.operator) {
  await cp.kubectl(["create", "namespace", NAMESPACE]);
  sandbox = await Sandbox.create({ prefix: "dbop-local-", major: 15 });
  kubelet = await startKubelet({
    kubeconfig: cp.kubeconfigPath,
    sandbox,
    namespaces: [NAMESPACE],
    images: await localImages(sandbox),
  });
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
await kubelet?.[Symbol.asyncDispose]();
await sandbox?.[Symbol.asyncDispose]();
await cp.stop();
// The real path: `stable` goes through the control plane directory, which stop() removed.
await Deno.remove(kubeconfig).catch(() => {});
