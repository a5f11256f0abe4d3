/**
 * `deno task cluster`: starts the local control plane for a developer and keeps
 * it running until Ctrl-C (or SIGTERM), then stops every component.
 *
 * @module
 */
import { startControlPlane } from "../harness/control_plane.ts";

const cp = await startControlPlane();
const stable = `${cp.dir}/../dbop-cluster.kubeconfig`;
await Deno.copyFile(cp.kubeconfigPath, stable);
const message = [
  "",
  "Control plane running. In another shell:",
  `  export KUBECONFIG=${await Deno.realPath(stable)}`,
  "  kubectl get nodes",
  `kubectl is at ${cp.binDir}/kubectl. Press Ctrl-C to stop.`,
  "",
].join("\n");
await Deno.stderr.write(new TextEncoder().encode(message));

const stopped = Promise.withResolvers<void>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stopped.resolve());
}
await stopped.promise;
await cp.stop();
await Deno.remove(stable).catch(() => {});
