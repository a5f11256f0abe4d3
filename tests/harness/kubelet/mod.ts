/**
 * A small kubelet for the test control plane: it runs the pods of its
 * namespaces (names starting with `kubelet-`, which kwok leaves alone, see
 * `network.ts`) as local processes of the sandbox's user, once the scheduler
 * has bound them to a node and kwok has given them a loopback IP. Each
 * container's `command` runs as is, with the PATH of its image taken from the
 * `images` map (an image not in the map fails as `ErrImageNeverPull`). Init
 * containers run in order, containers restart by `restartPolicy`, readiness
 * and liveness probes are real, deletion sends SIGTERM and SIGKILL after the
 * grace period and then removes the pod, and a pod with a service account
 * gets the token, CA and namespace files the ServiceAccount admission plugin
 * mounts, plus `KUBERNETES_SERVICE_HOST/PORT` naming the API server. Volumes
 * are directories ({@linkcode LocalPod}); a claim's directory is kept by the
 * claim's UID, so a pod recreated on the same claim finds its data. The
 * kubelet also proxies its namespaces' Services on their ClusterIPs and
 * resolves their names in env values ({@linkcode ServiceProxy}). For fault
 * tests it kills a pod as a dying node would ({@linkcode Kubelet.killPod}) and
 * pauses and resumes all of a pod's processes ({@linkcode Kubelet.pausePod}),
 * and, as root with nftables, cuts a pod off the API server and its peers
 * ({@linkcode Kubelet.partitionPod}).
 *
 * Not emulated: image contents (the host's files are the image), resources
 * and security contexts beyond the sandbox user, sidecar (restartable init)
 * containers, startup probes, lifecycle hooks, `workingDir`, `envFrom`,
 * hostNetwork, token rotation, node status (kwok keeps the nodes), and
 * source addresses: pods' outgoing connections come from 127.0.0.1.
 *
 * ```ts
 * await using sandbox = await Sandbox.create();
 * await using kubelet = await startKubelet({
 *   kubeconfig: cluster.kubeconfigPath, sandbox, namespaces: [ns], images: { python: {} },
 * });
 * ```
 *
 * @module
 */
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { Namespaces, Pods, Services } from "../../../lib/databasecluster/kinds.ts";
import { NotFoundError, resourcePath, type Resources } from "../../../lib/kube/mod.ts";
import { Informer } from "../../../lib/runtime/informer.ts";
import type { LocalImage, LocalPod } from "../local_pod.ts";
import { resourcesFor } from "../mod.ts";
import type { Sandbox } from "../postgres.ts";
import {
  ENV_NETWORK,
  KUBELET_NAMESPACE_PREFIX,
  KUBERNETES_SERVICE_IP,
  SERVICE_CIDR,
} from "./network.ts";
import { Partitions } from "./partition.ts";
import { type KubeletContext, PodWorker } from "./pod_worker.ts";
import { endpointsOf, hostTable, ServiceProxy } from "./service_proxy.ts";

export { KUBELET_NAMESPACE_PREFIX } from "./network.ts";

/** Options of {@linkcode startKubelet}. */
export interface KubeletOptions {
  /** Admin kubeconfig of the control plane. */
  kubeconfig: string;
  /** Where pods' files live and whose user runs their processes. */
  sandbox: Sandbox;
  /** Namespaces whose pods this kubelet runs; each starts with `kubelet-`. */
  namespaces: string[];
  /** What each image provides on the host (PATH directories, default env), by image name. */
  images: Record<string, LocalImage>;
  /** Where to print what it does; default stderr with a `[kubelet]` prefix. */
  log?: (line: string) => void;
}

/** How long containers get to stop when the kubelet itself is disposed (a node shutdown). */
const SHUTDOWN_GRACE_SECONDS = 2;

function logToStderr(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[kubelet] ${line}\n`));
}

/** A running emulated kubelet; dispose it to stop its pods, proxies and watches. */
export class Kubelet implements AsyncDisposable {
  readonly namespaces: readonly string[];
  #resources: Resources;
  #log: (line: string) => void;
  #abort = new AbortController();
  #pods: Informer<V1Pod>[];
  #services: Informer<V1Service>[];
  #running: Promise<void>[] = [];
  #workers = new Map<string, PodWorker>();
  #hosts = new Map<string, Record<string, string>>();
  #proxy: ServiceProxy;
  #context: KubeletContext;
  /** Why pods cannot be partitioned here, when they cannot. */
  #noPartitions = "";

  constructor(options: KubeletOptions, resources: Resources) {
    this.namespaces = options.namespaces;
    this.#resources = resources;
    this.#log = options.log ?? logToStderr;
    for (const namespace of options.namespaces) this.#hosts.set(namespace, {});
    this.#context = {
      sandbox: options.sandbox,
      resources,
      images: options.images,
      apiServer: new URL(resources.client.server),
      hosts: (namespace) => this.#hosts.get(namespace) ?? {},
      log: this.#log,
    };
    this.#pods = options.namespaces.map((namespace) =>
      new Informer(resources, Pods, { namespace })
    );
    this.#services = options.namespaces.map((namespace) =>
      new Informer(resources, Services, { namespace })
    );
    this.#proxy = new ServiceProxy(
      (address) => this.#endpoints(address),
      this.#log,
      (client, endpoint) => this.#context.partitions?.separates(client, endpoint) ?? false,
    );
  }

  /** Starts the watches and waits until they have listed. */
  async start(): Promise<void> {
    const apiServer = this.#context.apiServer;
    const partitions = await Partitions.create(
      { ip: apiServer.hostname, port: Number(apiServer.port || 443) },
      SERVICE_CIDR,
    );
    if (typeof partitions === "string") this.#noPartitions = partitions;
    else this.#context.partitions = partitions;
    for (const informer of this.#pods) {
      informer.addHandler((event) => {
        if (event.type === "deleted") this.#podDeleted(event.object);
        else this.#podSeen(event.object);
        this.#refreshNetwork();
      });
    }
    for (const informer of this.#services) informer.addHandler(() => this.#refreshNetwork());
    for (const informer of [...this.#pods, ...this.#services]) {
      this.#running.push(informer.run(this.#abort.signal));
    }
    await Promise.all([...this.#pods, ...this.#services].map((i) => i.waitForSync()));
    this.#log(`watching pods and services in ${this.namespaces.join(", ")}`);
  }

  #allPods(): V1Pod[] {
    return this.#pods.flatMap((informer) => informer.store.list());
  }

  #allServices(): V1Service[] {
    return this.#services.flatMap((informer) => informer.store.list());
  }

  #endpoints(address: string) {
    const pods = this.#allPods();
    for (const service of this.#allServices()) {
      for (const port of service.spec?.ports ?? []) {
        if (`${service.spec?.clusterIP}:${port.port}` === address) {
          return endpointsOf(service, port, pods);
        }
      }
    }
    return [];
  }

  /** Rebuilds the DNS tables in place (pods read them at each start) and the proxies. */
  #refreshNetwork(): void {
    const services = this.#allServices();
    const pods = this.#allPods();
    for (const [namespace, table] of this.#hosts) {
      for (const name of Object.keys(table)) delete table[name];
      Object.assign(table, hostTable(namespace, services, pods));
    }
    try {
      this.#proxy.sync(services);
    } catch (error) {
      this.#log(`cannot proxy services: ${error}`);
    }
  }

  #podSeen(pod: V1Pod): void {
    const uid = pod.metadata!.uid!;
    const worker = this.#workers.get(uid);
    if (worker) {
      worker.update(pod);
      return;
    }
    if (!pod.spec?.nodeName) return;
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      // Finished under an earlier kubelet: nothing runs, but a deletion still needs finishing.
      if (pod.metadata?.deletionTimestamp) this.#forceDelete(pod).catch(() => {});
      return;
    }
    const started = new PodWorker(this.#context, pod);
    this.#workers.set(uid, started);
    this.#log(`pod ${started.key} is bound to ${pod.spec.nodeName}: running it`);
    started.update(pod);
  }

  #podDeleted(pod: V1Pod): void {
    const uid = pod.metadata!.uid!;
    // The worker stays in the map, so that its logs can still be read.
    this.#workers.get(uid)?.removed();
  }

  /** Deletes the pod object at once; one already gone is fine. */
  async #forceDelete(pod: V1Pod): Promise<void> {
    try {
      await this.#resources.client.request(
        resourcePath(Pods, { namespace: pod.metadata!.namespace, name: pod.metadata!.name }),
        {
          method: "DELETE",
          body: {
            apiVersion: "v1",
            kind: "DeleteOptions",
            gracePeriodSeconds: 0,
            preconditions: { uid: pod.metadata!.uid },
          },
        },
      );
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  #worker(namespace: string, name: string): PodWorker {
    // The latest pod of that name: a StatefulSet's pods come back with the same name.
    const worker = [...this.#workers.values()].findLast((w) => w.key === `${namespace}/${name}`);
    if (!worker) throw new Error(`The kubelet runs no pod "${namespace}/${name}"`);
    return worker;
  }

  /**
   * Kills a pod as its node dying would: every process of its containers gets SIGKILL at
   * the same moment (see `process_tree.ts`), nothing restarts or reports, and the pod
   * object is then force-deleted (grace period 0), as the node lifecycle controller's
   * eviction of a dead node's pod ends. Resolves with the number of processes killed once
   * the deletion is accepted.
   */
  async killPod(namespace: string, name: string): Promise<number> {
    const worker = this.#worker(namespace, name);
    const killed = await worker.kill();
    const pod = this.#allPods().find((p) => p.metadata?.uid === worker.uid);
    if (pod) await this.#forceDelete(pod);
    return killed;
  }

  /**
   * Cuts the pod off the API server and off the other pods of its namespace, both ways and
   * open connections included, as a network partition around its node would (its kubelet
   * is cut too: it reports and acts on nothing until healed); everything else, the test's
   * clients through Services included, still reaches it. See `partition.ts`.
   */
  async partitionPod(namespace: string, name: string): Promise<void> {
    await this.#setPartitioned(namespace, name, true);
  }

  /** Heals {@linkcode Kubelet.partitionPod}. */
  async healPod(namespace: string, name: string): Promise<void> {
    await this.#setPartitioned(namespace, name, false);
  }

  async #setPartitioned(namespace: string, name: string, cut: boolean): Promise<void> {
    const partitions = this.#context.partitions;
    if (!partitions) throw new Error(`Cannot partition pods here: ${this.#noPartitions}`);
    const worker = this.#worker(namespace, name);
    await partitions.setCut(worker.uid, cut);
    worker.setPartitioned(cut, this.#allPods().find((p) => p.metadata?.uid === worker.uid));
    this.#proxy.refresh();
    this.#log(`${cut ? "partitioned" : "healed"} pod ${worker.key}`);
  }

  /** Stops every process of the pod with SIGSTOP, as a hung node; the kubelet goes on probing. */
  async pausePod(namespace: string, name: string): Promise<void> {
    await this.#worker(namespace, name).pause();
  }

  /** Continues the processes {@linkcode Kubelet.pausePod} stopped (SIGCONT). */
  async resumePod(namespace: string, name: string): Promise<void> {
    await this.#worker(namespace, name).resume();
  }

  /** The running pod's files and commands on the host (e.g. `hostPath("/data")`). */
  localPod(namespace: string, name: string): LocalPod {
    const local = this.#worker(namespace, name).localPod;
    if (!local) throw new Error(`Pod "${namespace}/${name}" has not been set up yet`);
    return local;
  }

  /** What a container printed, over all its restarts (`kubectl logs`, with `--previous`). */
  logs(namespace: string, name: string, container: string): string {
    return this.#worker(namespace, name).logs(container);
  }

  /** The names pods of `namespace` resolve, and their addresses. */
  hosts(namespace: string): Record<string, string> {
    return { ...this.#hosts.get(namespace) };
  }

  /**
   * Stops like a node shutting down: containers get SIGTERM and a short grace period, the
   * watches and proxies stop; pods being deleted (or in a deleted namespace) are removed.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#running);
    await this.#proxy.close();
    const workers = [...this.#workers.values()];
    await Promise.allSettled(workers.map((w) => w.terminate(SHUTDOWN_GRACE_SECONDS)));
    for (const namespace of this.namespaces) {
      const ns = await this.#resources.getOrUndefined(Namespaces, namespace).catch(() => undefined);
      if (ns && !ns.metadata?.deletionTimestamp) continue;
      for (const pod of this.#pods.flatMap((i) => i.store.listByNamespace(namespace))) {
        await this.#forceDelete(pod).catch(() => {});
      }
    }
    await this.#context.partitions?.dispose();
    this.#resources.client.close();
    this.#log(`stopped (${workers.length} pods)`);
  }
}

/**
 * Starts an emulated kubelet for `namespaces` of the local control plane; see the module
 * doc. Fails when the control plane does not leave these pods to it.
 */
export async function startKubelet(options: KubeletOptions): Promise<Kubelet> {
  for (const namespace of options.namespaces) {
    if (!namespace.startsWith(KUBELET_NAMESPACE_PREFIX)) {
      throw new Error(
        `Namespace "${namespace}" does not start with "${KUBELET_NAMESPACE_PREFIX}": kwok fakes its pods`,
      );
    }
  }
  const resources = resourcesFor(options.kubeconfig);
  const kubernetes = await resources.get(Services, "kubernetes", { namespace: "default" });
  // The first address of the service CIDR: this is the control plane the kubelet is made for.
  if (kubernetes.spec?.clusterIP !== KUBERNETES_SERVICE_IP) {
    resources.client.close();
    throw new Error(
      `The cluster's service CIDR is not "${SERVICE_CIDR}": the emulated kubelet needs the local ` +
        `control plane (tests/harness/control_plane.ts), and ${ENV_NETWORK} as it set it`,
    );
  }
  const kubelet = new Kubelet(options, resources);
  await kubelet.start();
  return kubelet;
}
