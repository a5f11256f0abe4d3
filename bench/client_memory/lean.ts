/**
 * Probe: what the instance manager's client costs, the lean in-cluster
 * credentials and `KubeClient`, authenticated once from the service-account
 * directory given as the first argument (no request is sent).
 *
 * @module
 */
import { KubeClient } from "../../lib/kube/client.ts";
import { loadInCluster } from "../../lib/kube/in_cluster.ts";
import { reportSettledMemory } from "./settle.ts";

const credentials = loadInCluster({ serviceAccountDir: Deno.args[0] });
await credentials.authenticate();
const client = new KubeClient(credentials);
await reportSettledMemory();
client.close();
