/**
 * Probe: the same client over client-node's KubeConfig, configured in-cluster
 * as dbop did before the lean credentials (token file and CA file from the
 * directory given as the first argument), authenticated once.
 *
 * @module
 */
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../../lib/kube/client.ts";
import { KubeConfigCredentials } from "../../lib/kube/kubeconfig.ts";
import { reportSettledMemory } from "./settle.ts";

const dir = Deno.args[0];
const kubeConfig = new KubeConfig();
kubeConfig.loadFromClusterAndUser(
  {
    name: "in-cluster",
    server: `https://${Deno.env.get("KUBERNETES_SERVICE_HOST")}:443`,
    caFile: `${dir}/ca.crt`,
    skipTLSVerify: false,
  },
  {
    name: "service-account",
    authProvider: { name: "tokenFile", config: { tokenFile: `${dir}/token` } },
  },
);
const credentials = new KubeConfigCredentials(kubeConfig);
await credentials.authenticate();
const client = new KubeClient(credentials);
await reportSettledMemory();
client.close();
