/**
 * A real Kubernetes control plane on 127.0.0.1 for tests: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok (fake nodes whose pods
 * become Running and Ready), built from Go modules by `tests/cluster/build.sh`.
 * Pod IPs and ClusterIPs are loopback addresses, and pods in `kubelet-*`
 * namespaces are left to the emulated kubelet (see `kubelet/network.ts`).
 *
 * Every start uses free ports and a fresh data directory. Components can be
 * killed, restarted, paused and resumed one by one, so runtime tests can break
 * the API server on purpose.
 *
 * @module
 */
import { kubeconfigFor, type Pki, writePki } from "./pki.ts";
import { kwokStages, nodePodCidr, POD_CIDR, SERVICE_CIDR } from "./kubelet/network.ts";

/** The processes that make up the control plane, in start order. */
export type Component =
  | "etcd"
  | "kube-apiserver"
  | "kube-apiserver-b"
  | "kube-controller-manager"
  | "kube-scheduler"
  | "kwok";

/** Options for {@linkcode startControlPlane}. */
export interface ControlPlaneOptions {
  /** Directory holding the binaries; defaults to running the build script. */
  binDir?: string;
  /** Number of fake nodes, spread over zones `zone-a`, `zone-b`, `zone-c`. Default 3. */
  nodes?: number;
  /** Extra kube-apiserver flags (e.g. `--default-watch-cache-size=0`). */
  apiserverFlags?: string[];
  /** Extra kube-controller-manager flags (e.g. `--kube-api-qps=200`). */
  controllerManagerFlags?: string[];
  /**
   * Also start a second API server on the same etcd, so tests can write through
   * one while the other is down or frozen.
   */
  secondApiServer?: boolean;
  /** Where to print progress; default stderr. */
  log?: (line: string) => void;
}

interface Running {
  child: Deno.ChildProcess;
  logFile: string;
  exited: Promise<Deno.CommandStatus>;
}

const encoder = new TextEncoder();
const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** Builds (once, cached) and returns the directory of the control-plane binaries. */
export async function ensureBinaries(log = logToStderr): Promise<string> {
  const child = new Deno.Command("bash", {
    args: [`${REPO_ROOT}tests/cluster/build.sh`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = await child.output();
  if (!out.success) throw new Error("Building the control plane failed: see the build log above");
  const binDir = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  log(`control-plane binaries: ${binDir}`);
  return binDir;
}

function logToStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(`[control-plane] ${line}\n`));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A started control plane; call {@linkcode ControlPlane.stop} when done. */
export class ControlPlane {
  /** Admin (system:masters) kubeconfig path. */
  readonly kubeconfigPath: string;
  /** The API server URL. */
  readonly server: string;
  /** Admin kubeconfig of the second API server, when started with `secondApiServer`. */
  readonly kubeconfigPathB: string;
  /** Directory with binaries (kubectl among them). */
  readonly binDir: string;
  /** Run directory: certificates, kubeconfigs, data and logs. */
  readonly dir: string;
  /**
   * The API server's audit log (JSON lines): requests of service accounts in namespace
   * `dbop-system` at Metadata level, so tests can see exactly what dbop was allowed to do.
   */
  readonly auditLogPath: string;
  /** Certificates and keys of this control plane. */
  readonly pki: Pki;
  readonly #etcdUrl: string;
  readonly #commands: Map<Component, string[]>;
  readonly #running = new Map<Component, Running>();
  readonly #log: (line: string) => void;
  #httpClient: Deno.HttpClient;

  constructor(init: {
    dir: string;
    binDir: string;
    pki: Pki;
    server: string;
    etcdUrl: string;
    commands: Map<Component, string[]>;
    log: (line: string) => void;
    httpClient: Deno.HttpClient;
  }) {
    this.dir = init.dir;
    this.binDir = init.binDir;
    this.pki = init.pki;
    this.server = init.server;
    this.kubeconfigPath = `${init.dir}/admin.kubeconfig`;
    this.kubeconfigPathB = `${init.dir}/admin-b.kubeconfig`;
    this.auditLogPath = `${init.dir}/logs/audit.log`;
    this.#etcdUrl = init.etcdUrl;
    this.#commands = init.commands;
    this.#log = init.log;
    this.#httpClient = init.httpClient;
  }

  /** Starts one component (again) with the flags it was first given. */
  start(component: Component): void {
    const [bin, ...args] = this.#commands.get(component)!;
    const logFile = `${this.dir}/logs/${component}.log`;
    // The shell execs the component with its output appended to the log file, so a
    // busy test process can never block it on a full pipe, and its pid is the component's.
    // setpriv's parent-death signal kills it if this process dies without stopping it.
    const child = new Deno.Command("bash", {
      args: [
        "-c",
        'exec setpriv --pdeathsig SIGKILL -- "$@" >>"$DBOP_COMPONENT_LOG" 2>&1',
        "bash",
        bin,
        ...args,
      ],
      env: { DBOP_COMPONENT_LOG: logFile },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#running.set(component, { child, logFile, exited: child.status });
  }

  /** Sends `signal` to a component and waits for it to exit (for SIGKILL/SIGTERM). */
  async kill(component: Component, signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const running = this.#running.get(component);
    if (!running) return;
    try {
      running.child.kill(signal);
    } catch {
      // Already exited.
    }
    await running.exited;
    this.#running.delete(component);
  }

  /** Freezes a component with SIGSTOP: its connections stay open but go silent. */
  pause(component: Component): void {
    this.#running.get(component)?.child.kill("SIGSTOP");
  }

  /** Resumes a component frozen by {@linkcode ControlPlane.pause}. */
  resume(component: Component): void {
    this.#running.get(component)?.child.kill("SIGCONT");
  }

  /** Kills and restarts the API server, then waits until it is ready. */
  async restartApiServer(): Promise<void> {
    await this.kill("kube-apiserver");
    this.start("kube-apiserver");
    await this.waitReady();
  }

  /** Process ids of the running components (to check for strays). */
  pids(): number[] {
    return [...this.#running.values()].map((r) => r.child.pid);
  }

  /** Compacts etcd up to its current revision, so older resourceVersions answer 410 Gone. */
  async compactEtcd(): Promise<number> {
    const range = await fetch(`${this.#etcdUrl}/v3/kv/range`, {
      method: "POST",
      body: JSON.stringify({ key: btoa("/"), limit: 1 }),
    });
    const revision = Number((await range.json()).header.revision);
    const res = await fetch(`${this.#etcdUrl}/v3/kv/compaction`, {
      method: "POST",
      body: JSON.stringify({ revision, physical: true }),
    });
    if (!res.ok) throw new Error(`etcd compaction failed: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
    return revision;
  }

  /** Waits until an API server (the first by default) answers `/readyz` with 200. */
  async waitReady(timeoutMs = 60_000, server = this.server): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${server}/readyz`, {
          client: this.#httpClient,
          signal: AbortSignal.timeout(2000),
        });
        last = `${res.status} ${await res.text()}`;
        if (res.ok) return;
      } catch (error) {
        last = String(error);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`kube-apiserver at ${server} not ready: ${last}`);
  }

  /** Runs the locally built kubectl against this control plane as admin. */
  async kubectl(
    args: string[],
    stdin?: string,
  ): Promise<{ code: number; out: string; err: string }> {
    const child = new Deno.Command(`${this.binDir}/kubectl`, {
      args: ["--kubeconfig", this.kubeconfigPath, ...args],
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(encoder.encode(stdin));
      await writer.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
  }

  /** The last `lines` lines of a component's log. */
  async logTail(component: Component, lines = 30): Promise<string> {
    try {
      const text = await Deno.readTextFile(`${this.dir}/logs/${component}.log`);
      // Long lines (the namespace controller lists every resource) would drown the rest.
      return text.trimEnd().split("\n").slice(-lines).map((l) => l.slice(0, 400)).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Stops every component (resuming paused ones first); optionally prints log tails. */
  async stop(options: { printLogs?: boolean; keepDir?: boolean } = {}): Promise<void> {
    if (options.printLogs) {
      for (const component of this.#commands.keys()) {
        this.#log(`--- last lines of ${component} log ---\n${await this.logTail(component)}`);
      }
    }
    const order = [...this.#commands.keys()].reverse();
    for (const component of order) {
      try {
        this.resume(component);
      } catch {
        // It already exited (crashed or killed): nothing to resume.
      }
      await this.kill(component, "SIGTERM").catch(() => {});
    }
    for (const component of order) await this.kill(component, "SIGKILL");
    this.#httpClient.close();
    if (!options.keepDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

function componentCommands(
  binDir: string,
  dir: string,
  pki: Pki,
  ports: { etcd: number; etcdPeer: number; apiserver: number; apiserverB?: number },
  extra: { apiserver: string[]; controllerManager: string[] },
): Map<Component, string[]> {
  const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
  const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
  const commands = new Map<Component, string[]>([
    ["etcd", [
      `${binDir}/etcd`,
      "--name=default",
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Durability does not matter for a throwaway test cluster; speed does.
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ]],
    ["kube-apiserver", [
      `${binDir}/kube-apiserver`,
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${ports.apiserver}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass," +
      "DefaultTolerationSeconds,StorageObjectInUseProtection,PersistentVolumeClaimResize," +
      "MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota," +
      "OwnerReferencesPermissionEnforcement",
      `--audit-policy-file=${dir}/audit-policy.yaml`,
      `--audit-log-path=${dir}/logs/audit.log`,
      "--audit-log-format=json",
      "--allow-privileged=true",
      "--profiling=false",
      `--cert-dir=${dir}/apiserver-certs`,
      ...extra.apiserver,
    ]],
    ["kube-controller-manager", [
      `${binDir}/kube-controller-manager`,
      `--kubeconfig=${dir}/controller-manager.kubeconfig`,
      "--secure-port=0",
      "--leader-elect=false",
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      "--use-service-account-credentials=true",
      "--enable-hostpath-provisioner=true",
      // Pod IPs are loopback (see kubelet/network.ts), which Endpoints and EndpointSlices refuse.
      "--controllers=*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller",
      "--concurrent-gc-syncs=5",
      ...extra.controllerManager,
    ]],
    ["kube-scheduler", [
      `${binDir}/kube-scheduler`,
      `--kubeconfig=${dir}/scheduler.kubeconfig`,
      `--authentication-kubeconfig=${dir}/scheduler.kubeconfig`,
      `--authorization-kubeconfig=${dir}/scheduler.kubeconfig`,
      "--secure-port=0",
      "--leader-elect=false",
    ]],
    ["kwok", [
      `${binDir}/kwok`,
      `--kubeconfig=${dir}/kwok.kubeconfig`,
      `--config=${dir}/kwok-stages.yaml`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--node-lease-duration-seconds=40",
      `--cidr=${POD_CIDR}`,
      "--node-ip=10.0.0.1",
      "--server-address=127.0.0.1:0",
    ]],
  ]);
  if (ports.apiserverB) {
    const apiserver = commands.get("kube-apiserver")!.map((flag) =>
      flag.startsWith("--secure-port=") ? `--secure-port=${ports.apiserverB}` : flag
    ).map((flag) => flag.startsWith("--cert-dir=") ? `--cert-dir=${dir}/apiserver-b-certs` : flag);
    commands.set("kube-apiserver-b", apiserver);
  }
  return commands;
}

const AUDIT_POLICY = [
  "apiVersion: audit.k8s.io/v1",
  "kind: Policy",
  "omitStages: [RequestReceived]",
  "rules:",
  "- level: Metadata",
  '  userGroups: ["system:serviceaccounts:dbop-system"]',
  "- level: None",
  "",
].join("\n");

function clusterObjects(nodes: number): string {
  const zones = ["zone-a", "zone-b", "zone-c"];
  const docs = [
    [
      "apiVersion: storage.k8s.io/v1",
      "kind: StorageClass",
      "metadata:",
      "  name: standard",
      '  annotations: {storageclass.kubernetes.io/is-default-class: "true"}',
      "provisioner: kubernetes.io/host-path",
      "reclaimPolicy: Delete",
      "volumeBindingMode: Immediate",
    ].join("\n"),
  ];
  for (let i = 0; i < nodes; i++) {
    const name = `kwok-node-${i}`;
    docs.push([
      "apiVersion: v1",
      "kind: Node",
      "metadata:",
      `  name: ${name}`,
      '  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}',
      "  labels:",
      "    type: kwok",
      `    kubernetes.io/hostname: ${name}`,
      "    kubernetes.io/os: linux",
      "    kubernetes.io/arch: amd64",
      `    topology.kubernetes.io/zone: ${zones[i % zones.length]}`,
      "    topology.kubernetes.io/region: local",
      "spec:",
      `  podCIDR: ${nodePodCidr(i)}`,
      "status:",
      '  allocatable: {cpu: "64", memory: 256Gi, pods: "250"}',
      '  capacity: {cpu: "64", memory: 256Gi, pods: "250"}',
    ].join("\n"));
  }
  return docs.join("\n---\n") + "\n";
}

/** Starts a fresh control plane with fake nodes and a default StorageClass. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? logToStderr;
  const started = performance.now();
  const binDir = options.binDir ?? await ensureBinaries(log);
  const dir = await Deno.makeTempDir({ prefix: "dbop-control-plane-" });
  await Deno.mkdir(`${dir}/logs`);
  await Deno.writeTextFile(`${dir}/audit-policy.yaml`, AUDIT_POLICY);
  const defaultStages = await Deno.readTextFile(`${binDir}/../kwok-stages.yaml`);
  await Deno.writeTextFile(`${dir}/kwok-stages.yaml`, kwokStages(defaultStages));
  const pki = await writePki(`${dir}/pki`);
  const ports = {
    etcd: freePort(),
    etcdPeer: freePort(),
    apiserver: freePort(),
    apiserverB: options.secondApiServer ? freePort() : undefined,
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  for (
    const [file, client] of [
      ["admin", "admin"],
      ["controller-manager", "controller-manager"],
      ["scheduler", "scheduler"],
      ["kwok", "kwok"],
    ] as const
  ) {
    await Deno.writeTextFile(`${dir}/${file}.kubeconfig`, await kubeconfigFor(pki, client, server));
  }
  const serverB = ports.apiserverB ? `https://127.0.0.1:${ports.apiserverB}` : undefined;
  if (serverB) {
    await Deno.writeTextFile(
      `${dir}/admin-b.kubeconfig`,
      await kubeconfigFor(pki, "admin", serverB),
    );
  }
  const httpClient = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(pki.caCert)],
    cert: await Deno.readTextFile(pki.clients.admin.cert),
    key: await Deno.readTextFile(pki.clients.admin.key),
  });
  const cp = new ControlPlane({
    dir,
    binDir,
    pki,
    server,
    etcdUrl: `http://127.0.0.1:${ports.etcd}`,
    commands: componentCommands(binDir, dir, pki, ports, {
      apiserver: options.apiserverFlags ?? [],
      controllerManager: options.controllerManagerFlags ?? [],
    }),
    log,
    httpClient,
  });
  try {
    cp.start("etcd");
    cp.start("kube-apiserver");
    await cp.waitReady();
    log(`kube-apiserver ready at ${server} after ${elapsed(started)}`);
    if (serverB) {
      cp.start("kube-apiserver-b");
      await cp.waitReady(60_000, serverB);
    }
    cp.start("kube-controller-manager");
    cp.start("kube-scheduler");
    cp.start("kwok");
    const applied = await cp.kubectl(["apply", "-f", "-"], clusterObjects(options.nodes ?? 3));
    if (applied.code !== 0) throw new Error(`Creating nodes failed: ${applied.err}`);
    await waitFor(cp, ["wait", "--for=condition=Ready", "node", "--all", "--timeout=60s"]);
    // The service-account controller creating "default" proves the controller manager runs.
    await waitFor(cp, ["get", "serviceaccount", "default", "-n", "default"]);
    log(`control plane ready in ${elapsed(started)}: export KUBECONFIG=${cp.kubeconfigPath}`);
    return cp;
  } catch (error) {
    await cp.stop({ printLogs: true });
    throw error;
  }
}

function elapsed(startedMs: number): string {
  return `${((performance.now() - startedMs) / 1000).toFixed(1)} s`;
}

async function waitFor(cp: ControlPlane, args: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const res = await cp.kubectl(args);
    if (res.code === 0) return;
    last = res.err.trim();
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Timed out waiting for "kubectl ${args.join(" ")}": ${last}`);
}
