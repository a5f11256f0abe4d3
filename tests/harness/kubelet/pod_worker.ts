/**
 * The emulated kubelet's work for one pod (one UID), from the moment it is
 * bound to a node until it is gone: wait for its IP (kwok's stage allocates
 * it, as a CNI plugin would), set up its volumes (Secrets, ConfigMaps,
 * claims, and the service-account token from the TokenRequest API bound to
 * the pod), run its init containers in order, each to completion, then its
 * containers, and report it all in the pod's status (phase, conditions,
 * container statuses) with strategic-merge patches, as the kubelet's status
 * manager does. When the pod is deleted, its containers get SIGTERM and,
 * after the grace period, SIGKILL; then the worker finishes the deletion
 * with a zero grace period, which is the kubelet's job, not kwok's.
 *
 * @module
 */
import type {
  V1Container,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1ServiceAccountTokenProjection,
} from "@kubernetes/client-node";
import {
  ConfigMaps,
  PersistentVolumeClaims,
  Pods,
  Secrets,
} from "../../../lib/databasecluster/kinds.ts";
import { NotFoundError, resourcePath, type Resources } from "../../../lib/kube/mod.ts";
import { type LocalImage, LocalPod, type PodObjects } from "../local_pod.ts";
import type { Sandbox } from "../postgres.ts";
import { type ContainerHost, ContainerRunner, type RestartPolicy } from "./container.ts";
import type { Partitions } from "./partition.ts";
import { signalAll, stopTree, treeOf } from "./process_tree.ts";

/** What every pod worker shares: the kubelet's connection, sandbox, images and DNS. */
export interface KubeletContext {
  sandbox: Sandbox;
  resources: Resources;
  images: Record<string, LocalImage>;
  /** The API server, for `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`. */
  apiServer: URL;
  /** Service names of a namespace and their addresses, kept up to date by the kubelet. */
  hosts(namespace: string): Record<string, string>;
  log(line: string): void;
  /** Each pod's cgroup and Service traffic by pod IP, where partitions can work. */
  partitions?: Partitions;
}

/** Now, to the second, as the API's timestamps are. */
function now(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The ConfigMaps and Secrets a pod's volumes and env name. */
function referencedObjects(pod: V1Pod): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const volume of pod.spec?.volumes ?? []) {
    if (volume.configMap?.name) configMaps.add(volume.configMap.name);
    if (volume.secret?.secretName) secrets.add(volume.secret.secretName);
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap?.name) configMaps.add(source.configMap.name);
      if (source.secret?.name) secrets.add(source.secret.name);
    }
  }
  for (const container of [...pod.spec?.initContainers ?? [], ...pod.spec?.containers ?? []]) {
    for (const variable of container.env ?? []) {
      const from = variable.valueFrom;
      if (from?.configMapKeyRef?.name) configMaps.add(from.configMapKeyRef.name);
      if (from?.secretKeyRef?.name) secrets.add(from.secretKeyRef.name);
    }
  }
  return { configMaps, secrets };
}

/** The downward API values the kubelet knows of a pod. */
function fieldRefs(pod: V1Pod): Record<string, string> {
  const fields: Record<string, string> = {
    "metadata.namespace": pod.metadata!.namespace!,
    "metadata.uid": pod.metadata!.uid!,
    "spec.nodeName": pod.spec!.nodeName ?? "",
    "spec.serviceAccountName": pod.spec!.serviceAccountName ?? "",
    "status.podIP": pod.status?.podIP ?? "",
    "status.hostIP": pod.status?.hostIP ?? "",
  };
  for (const [key, value] of Object.entries(pod.metadata!.labels ?? {})) {
    fields[`metadata.labels['${key}']`] = value;
  }
  for (const [key, value] of Object.entries(pod.metadata!.annotations ?? {})) {
    fields[`metadata.annotations['${key}']`] = value;
  }
  return fields;
}

/** Runs one pod; see the module doc. */
export class PodWorker {
  readonly key: string;
  readonly uid: string;
  /** Resolves when the pod's containers have all stopped for good. */
  readonly done: Promise<void>;
  #ctx: KubeletContext;
  #pod: V1Pod;
  #local?: LocalPod;
  #init: ContainerRunner[];
  #containers: ContainerRunner[];
  #readyToStart = false;
  #initialized = false;
  #failed = false;
  #startTime?: string;
  #transitions = new Map<string, { status: string; time: string }>();
  #stopping = false;
  #terminating?: Promise<void>;
  #podChanged = Promise.withResolvers<void>();
  #dirty = false;
  #syncing?: Promise<void>;
  #lastSent = "";
  #gone = false;
  #partitioned = false;
  #removedWhilePartitioned = false;

  constructor(ctx: KubeletContext, pod: V1Pod) {
    this.#ctx = ctx;
    this.#pod = pod;
    this.key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    this.uid = pod.metadata!.uid!;
    const host = (spec: V1Container) => new ContainerRunner(spec, this.#containerHost());
    this.#init = (pod.spec!.initContainers ?? []).map(host);
    this.#containers = pod.spec!.containers.map(host);
    this.done = this.#run().catch((error) => {
      ctx.log(`pod ${this.key} failed: ${error instanceof Error ? error.stack : error}`);
    });
    this.done.then(() => ctx.partitions?.remove(this.uid)).catch((error) => {
      ctx.log(`pod ${this.key}: cannot remove its cgroup: ${error}`);
    });
  }

  #containerHost(): ContainerHost {
    const local = () => this.#local!;
    const pod = () => this.#pod;
    const grace = () => this.#graceSeconds();
    return {
      get pod() {
        return local();
      },
      get podIP() {
        return pod().status!.podIP!;
      },
      get graceMs() {
        return grace() * 1000;
      },
      podKey: this.key,
      log: (line: string) => this.#ctx.log(line),
      changed: () => this.#changed(),
    };
  }

  /** The pod's files and commands as the host sees them, once its volumes exist. */
  get localPod(): LocalPod | undefined {
    return this.#local;
  }

  /** A container's output over all its restarts. */
  logs(container: string): string {
    const runner = [...this.#init, ...this.#containers].find((r) => r.spec.name === container);
    if (!runner) throw new Error(`Pod "${this.key}" has no container "${container}"`);
    return runner.logs();
  }

  /**
   * Cuts this pod's kubelet off the API server, or heals it: while cut, nothing it sees of
   * the pod (a deletion included) is acted on and no status is reported; on healing it
   * catches up with the pod as it is then.
   */
  setPartitioned(partitioned: boolean, latest?: V1Pod): void {
    this.#partitioned = partitioned;
    if (partitioned) return;
    if (this.#removedWhilePartitioned) this.removed();
    else if (latest) this.update(latest);
    this.#changed();
  }

  /** Takes the pod as the API server has it now; a deletion timestamp starts termination. */
  update(pod: V1Pod): void {
    if (this.#partitioned) return;
    this.#pod = pod;
    this.#podChanged.resolve();
    this.#podChanged = Promise.withResolvers<void>();
    if (pod.metadata?.deletionTimestamp) this.terminate();
  }

  /** The pod is gone from the API server (force-deleted): stop without reporting. */
  removed(): Promise<void> {
    if (this.#partitioned) {
      this.#removedWhilePartitioned = true;
      return Promise.resolve();
    }
    this.#gone = true;
    return this.terminate();
  }

  /** The processes its containers run now (each the root of a tree). */
  #roots(): number[] {
    return [...this.#init, ...this.#containers].flatMap((c) => c.pid ?? []);
  }

  /**
   * Dies as on a node that fails: every process of its containers stopped, then all killed
   * together; nothing restarts and no status is reported any more. Returns how many
   * processes were killed. The pod object is left to the caller.
   */
  async kill(): Promise<number> {
    this.#gone = true;
    this.#stopping = true;
    this.#podChanged.resolve();
    for (const runner of [...this.#init, ...this.#containers]) runner.halt();
    const pids = await stopTree(this.#roots());
    signalAll(pids, "SIGKILL");
    await this.done;
    this.#ctx.log(`killed pod ${this.key}: ${pids.length} processes`);
    return pids.length;
  }

  /** Stops (SIGSTOP) every process of its containers; returns how many. */
  async pause(): Promise<number> {
    const pids = await stopTree(this.#roots());
    this.#ctx.log(`paused pod ${this.key}: ${pids.length} processes`);
    return pids.length;
  }

  /** Continues (SIGCONT) every process of its containers; returns how many. */
  async resume(): Promise<number> {
    // Stopped processes fork nothing, so this is the tree pause() stopped.
    const pids = await treeOf(this.#roots());
    signalAll(pids, "SIGCONT");
    this.#ctx.log(`resumed pod ${this.key}: ${pids.length} processes`);
    return pids.length;
  }

  #graceSeconds(): number {
    return this.#pod.metadata?.deletionGracePeriodSeconds ??
      this.#pod.spec?.terminationGracePeriodSeconds ?? 30;
  }

  /**
   * Stops the containers (SIGTERM, SIGKILL after the pod's grace period, or `graceSeconds`);
   * then finishes the deletion of a deleted pod.
   */
  terminate(graceSeconds?: number): Promise<void> {
    this.#terminating ??= this.#terminate(graceSeconds ?? this.#graceSeconds());
    return this.#terminating;
  }

  async #terminate(grace: number): Promise<void> {
    const started = performance.now();
    this.#stopping = true;
    this.#podChanged.resolve();
    this.#ctx.log(`stopping pod ${this.key} (grace period ${grace} s)`);
    await Promise.all([...this.#init, ...this.#containers].map((c) => c.stop(grace * 1000)));
    await this.done;
    if (this.#gone) return;
    this.#changed();
    await this.#syncing;
    if (!this.#pod.metadata?.deletionTimestamp) return;
    try {
      await this.#ctx.resources.client.request(
        resourcePath(Pods, {
          namespace: this.#pod.metadata.namespace,
          name: this.#pod.metadata.name,
        }),
        {
          method: "DELETE",
          body: {
            apiVersion: "v1",
            kind: "DeleteOptions",
            gracePeriodSeconds: 0,
            preconditions: { uid: this.uid },
          },
        },
      );
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.#ctx.log(`deleted pod ${this.key} after its containers stopped (${seconds} s)`);
  }

  async #run(): Promise<void> {
    while (!this.#pod.status?.podIP && !this.#stopping) await this.#podChanged.promise;
    if (this.#stopping) return;
    if (!await this.#setUp()) return;
    const policy = (this.#pod.spec!.restartPolicy ?? "Always") as RestartPolicy;
    for (const init of this.#init) {
      await init.run(policy, { untilSuccess: true });
      if (!init.succeeded) {
        this.#failed = !this.#stopping;
        this.#changed();
        return;
      }
    }
    this.#initialized = true;
    this.#changed();
    await Promise.all(this.#containers.map((c) => c.run(policy)));
  }

  /** Volumes, env and images; false (with the reason in the status) when it cannot start. */
  async #setUp(): Promise<boolean> {
    const pod = this.#pod;
    const unknown = [...this.#init, ...this.#containers].filter((c) =>
      !((c.spec.image ?? "") in this.#ctx.images)
    );
    for (const runner of unknown) {
      runner.fail(
        "ErrImageNeverPull",
        `Image "${runner.spec.image}" is not in the kubelet's images`,
      );
    }
    if (unknown.length > 0) return false;
    const namespace = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const sandbox = this.#ctx.sandbox;
    // Short: a Unix socket's path must fit in 107 bytes, and pods put theirs in a volume.
    const root = `${sandbox.root}/p/${this.uid.slice(0, 8)}`;
    const partitions = this.#ctx.partitions;
    const cgroup = await partitions?.cgroupDir(this.uid);
    await partitions?.add(this.uid, namespace, pod.status!.podIP!);
    const local = new LocalPod(sandbox, {
      cgroup,
      name,
      spec: pod.spec!,
      root,
      claims: await this.#claims(),
      hosts: this.#ctx.hosts(namespace),
      images: this.#ctx.images,
      env: {
        KUBERNETES_SERVICE_HOST: this.#ctx.apiServer.hostname,
        KUBERNETES_SERVICE_PORT: this.#ctx.apiServer.port,
      },
      fieldRefs: fieldRefs(pod),
    });
    await sandbox.mkdir(root);
    const objects = await this.#objects();
    if (!objects) return false;
    try {
      await local.materialize(objects);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      for (const runner of [...this.#init, ...this.#containers]) {
        runner.fail("CreateContainerConfigError", message);
      }
      return false;
    }
    this.#local = local;
    this.#readyToStart = true;
    this.#startTime = now();
    this.#changed();
    return true;
  }

  /** A directory per claim (by the claim's UID, so a new claim of the same name starts empty). */
  async #claims(): Promise<Record<string, string>> {
    const claims: Record<string, string> = {};
    const namespace = this.#pod.metadata!.namespace!;
    for (const volume of this.#pod.spec?.volumes ?? []) {
      const claim = volume.persistentVolumeClaim?.claimName;
      if (!claim) continue;
      const pvc = await this.#ctx.resources.get(PersistentVolumeClaims, claim, { namespace });
      const dir = `${this.#ctx.sandbox.root}/claims/${namespace}/${claim}-${
        pvc.metadata!.uid!.slice(0, 8)
      }`;
      claims[claim] = await this.#ctx.sandbox.mkdir(dir);
    }
    return claims;
  }

  /** The referenced objects, waiting (as the kubelet does) until they all exist. */
  async #objects(): Promise<PodObjects | undefined> {
    const namespace = this.#pod.metadata!.namespace!;
    const wanted = referencedObjects(this.#pod);
    let reported = false;
    while (!this.#stopping) {
      const resources = this.#ctx.resources;
      const configMaps = await Promise.all(
        [...wanted.configMaps].map((n) => resources.getOrUndefined(ConfigMaps, n, { namespace })),
      );
      const secrets = await Promise.all(
        [...wanted.secrets].map((n) => resources.getOrUndefined(Secrets, n, { namespace })),
      );
      if (![...configMaps, ...secrets].includes(undefined)) {
        return {
          configMaps: configMaps.map((c) => c!),
          secrets: secrets.map((s) => s!),
          serviceAccountToken: (projection) => this.#token(projection),
        };
      }
      if (!reported) {
        this.#ctx.log(`pod ${this.key} waits for its ConfigMaps and Secrets`);
        reported = true;
      }
      await sleep(500);
    }
    return undefined;
  }

  async #token(projection: V1ServiceAccountTokenProjection): Promise<string> {
    const pod = this.#pod;
    const namespace = pod.metadata!.namespace!;
    const serviceAccount = pod.spec!.serviceAccountName ?? "default";
    const path = `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`;
    const review = await this.#ctx.resources.client.request<{ status: { token: string } }>(path, {
      method: "POST",
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          audiences: projection.audience ? [projection.audience] : [],
          expirationSeconds: projection.expirationSeconds ?? 3600,
          boundObjectRef: {
            apiVersion: "v1",
            kind: "Pod",
            name: pod.metadata!.name,
            uid: this.uid,
          },
        },
      },
    });
    return review.status.token;
  }

  #phase(): string {
    if (this.#failed) return "Failed";
    if (!this.#initialized) return "Pending";
    if (this.#containers.every((c) => c.finished)) {
      return this.#containers.every((c) => c.succeeded) ? "Succeeded" : "Failed";
    }
    return "Running";
  }

  #condition(type: string, value: boolean): V1PodCondition {
    const status = value ? "True" : "False";
    let transition = this.#transitions.get(type);
    if (transition?.status !== status) {
      transition = { status, time: now() };
      this.#transitions.set(type, transition);
    }
    return { type, status, lastTransitionTime: transition.time as unknown as Date };
  }

  #status(): Record<string, unknown> {
    const ready = this.#initialized && this.#containers.every((c) => c.ready);
    const statuses = (runners: ContainerRunner[]): V1ContainerStatus[] =>
      runners.map((r) => r.status());
    return {
      phase: this.#phase(),
      ...(this.#startTime ? { startTime: this.#startTime } : {}),
      conditions: [
        this.#condition("PodReadyToStartContainers", this.#readyToStart),
        this.#condition("Initialized", this.#initialized),
        this.#condition("ContainersReady", ready),
        this.#condition("Ready", ready),
      ],
      initContainerStatuses: statuses(this.#init),
      containerStatuses: statuses(this.#containers),
    };
  }

  #changed(): void {
    this.#dirty = true;
    this.#syncing ??= this.#sync().finally(() => this.#syncing = undefined);
  }

  /** Sends the status while it changes; one patch at a time, the latest state each time. */
  async #sync(): Promise<void> {
    while (this.#dirty && !this.#gone && !this.#partitioned) {
      this.#dirty = false;
      const status = this.#status();
      const body = JSON.stringify({ status });
      if (body === this.#lastSent) continue;
      try {
        await this.#ctx.resources.patch(Pods, this.#pod.metadata!.name!, { status }, {
          namespace: this.#pod.metadata!.namespace,
          subresource: "status",
          patchType: "strategic",
        });
        this.#lastSent = body;
      } catch (error) {
        if (error instanceof NotFoundError) return;
        this.#ctx.log(`pod ${this.key}: status update failed, retrying: ${error}`);
        this.#dirty = true;
        await sleep(500);
      }
    }
  }
}
