/**
 * Shipping, proven on a control plane of this test's own (its audit log is
 * read): the kustomize manifests apply and the manager Deployment becomes
 * Available; install.yaml passes a server-side dry run and matches
 * `kubectl kustomize deploy/default`; dbop runs out of the cluster from a
 * kubeconfig and in the cluster from nothing but the shipped ServiceAccount's
 * token and CA, a cluster converges through every path the ClusterRole
 * covers, SIGTERM stops it in time with the lease released, the audit log
 * shows every granted verb used and none refused (the role is sufficient and
 * minimal; the instances' ServiceAccount, Role and RoleBinding included), a
 * role missing a rule is refused with a clear message, and one missing a verb
 * the instance Role grants cannot create that Role (RBAC's escalation check).
 *
 * @module
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { renderInstall } from "../lib/deploy/write_manifests.ts";
import { buildClusterRole } from "../lib/deploy/rbac_manifests.ts";
import { CLUSTER_RULES, LEADER_ELECTION_RULES } from "../lib/databasecluster/rbac.ts";
import { ForbiddenError, KubeClient, Resources } from "../lib/kube/mod.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { ConfigMaps, Roles } from "../lib/databasecluster/kinds.ts";
import { instanceRules } from "../lib/databasecluster/specs/instance_rbac.ts";
import {
  type ControlPlane,
  eventually,
  makeTestCluster,
  startControlPlane,
  type TestCluster,
} from "./harness/mod.ts";
import {
  ensureCrd,
  getJson,
  installPodMonitorCrd,
  type Obj,
  waitForCluster,
  waitForPhase,
} from "./harness/clusters.ts";
import { DbopProcess } from "./harness/dbop_process.ts";
import { FIELD_MANAGER } from "../lib/databasecluster/names.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SA_USER = "system:serviceaccount:dbop-system:dbop";

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[deploy] ${line}\n`));
}

/** The Secrets the "shop" cluster's instances follow: credentials, status token, certificate. */
const SHOP_INSTANCE_SECRETS = [
  "shop-superuser",
  "shop-replication",
  "owner",
  "shop-status",
  "shop-server",
];

/** Drives a cluster through every path the ClusterRole is for, ending with its deletion. */
async function exerciseEveryPath(cluster: TestCluster, ns: string): Promise<void> {
  await cluster.kubectlOk(["create", "namespace", ns]);
  await cluster.kubectlOk([
    "create",
    "secret",
    "generic",
    "owner",
    "--type=kubernetes.io/basic-auth",
    "--from-literal=username=shop",
    "--from-literal=password=not-a-real-password",
    "-n",
    ns,
  ]);
  const spec = {
    replicas: 2,
    version: "16.4",
    storage: { size: "1Gi", storageClassName: "fast-ssd" },
    security: { authentication: { existingSecret: "owner" } },
    monitoring: { enabled: true, podMonitor: true },
    backup: { enabled: true, schedule: "0 3 * * *", retention: 2, storage: { size: "1Gi" } },
    deletionPolicy: "Delete",
  };
  const manifest = {
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    metadata: { name: "shop", namespace: ns },
    spec,
  };
  await cluster.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) });
  await waitForPhase(cluster, ns, "shop", "Running", 120_000);
  // The instances' identity: created by dbop, which may grant the Role only what it holds.
  const role = await getJson(cluster, ["get", "role", "shop-instance", "-n", ns]);
  assert.deepEqual(
    role.rules,
    instanceRules("shop", SHOP_INSTANCE_SECRETS),
  );
  await getJson(cluster, ["get", "serviceaccount", "shop-instance", "-n", ns]);
  await getJson(cluster, ["get", "rolebinding", "shop-instance", "-n", ns]);
  await getJson(cluster, ["get", "secret", "shop-status", "-n", ns]);
  await eventually(
    "the PodMonitor",
    async () =>
      (await cluster.kubectl(["get", "podmonitors.monitoring.coreos.com", "shop", "-n", ns]))
          .code === 0 || undefined,
  );
  // Bookkeeping only: kwok completes the Job's pod without running pg_dump (postgres_test.ts
  // runs it on real PostgreSQL).
  await cluster.kubectlOk([
    "create",
    "job",
    "shop-backup-now",
    "--from=cronjob/shop-backup",
    "-n",
    ns,
  ]);
  await waitForCluster(
    cluster,
    ns,
    "shop",
    "BackupReady",
    (dbc) =>
      dbc.status?.conditions?.some((c: Obj) => c.type === "BackupReady" && c.status === "True"),
  );
  const patch = (p: Obj) =>
    cluster.kubectlOk(["patch", "dbc", "shop", "-n", ns, "--type=merge", "-p", JSON.stringify(p)]);
  await patch({
    spec: {
      replicas: 1,
      // A minor version bump changes the pod template: dbop deletes the outdated pod.
      version: "16.5",
      storage: { size: "2Gi" },
      backup: { enabled: false },
      monitoring: { podMonitor: false },
    },
  });
  await eventually("the budget, CronJob and PodMonitor removed, the volume grown", async () => {
    const gone = await Promise.all(
      ["pdb/shop", "cronjob/shop-backup", "podmonitors.monitoring.coreos.com/shop"].map(async (o) =>
        (await cluster.kubectl(["get", o, "-n", ns])).code !== 0
      ),
    );
    const pvc = await getJson(cluster, ["get", "pvc", "data-shop-0", "-n", ns]);
    return gone.every(Boolean) && pvc.spec.resources.requests.storage === "2Gi" ? true : undefined;
  }, { timeoutMs: 90_000 });
  await eventually("the pod replaced with the new version", async () => {
    const pod = await getJson(cluster, ["get", "pod", "shop-0", "-n", ns]);
    return pod.spec.containers[0].image === "postgres:16.5" && pod.status.phase === "Running"
      ? true
      : undefined;
  }, { timeoutMs: 120_000 });
  await cluster.kubectlOk(["delete", "configmap", "shop-config", "-n", ns]);
  await eventually(
    "the ConfigMap recreated",
    async () =>
      (await cluster.kubectl(["get", "configmap", "shop-config", "-n", ns])).code === 0 ||
      undefined,
  );
  // A hand-widened instance Role is narrowed back (an update of a live Role, not a create).
  await cluster.kubectlOk([
    "patch",
    "role",
    "shop-instance",
    "-n",
    ns,
    "--type=merge",
    "-p",
    JSON.stringify({
      rules: [...instanceRules("shop", SHOP_INSTANCE_SECRETS), {
        apiGroups: [""],
        resources: ["pods"],
        verbs: ["get"],
      }],
    }),
  ]);
  await eventually(
    "the instance Role narrowed back",
    async () =>
      isDeepStrictEqual(
        (await getJson(cluster, ["get", "role", "shop-instance", "-n", ns])).rules,
        instanceRules("shop", SHOP_INSTANCE_SECRETS),
      ) || undefined,
  );
  await cluster.kubectlOk(["delete", "dbc", "shop", "-n", ns, "--timeout=120s"]);
  await eventually("every volume gone (deletionPolicy Delete)", async () => {
    const res = await cluster.kubectl(["get", "pvc", "-n", ns, "-o", "name"]);
    return res.code === 0 && res.stdout.trim() === "" ? true : undefined;
  }, { timeoutMs: 90_000 });
}

/**
 * Grants the audit log cannot show used in this scenario, and why they are kept: each is
 * needed by a path named here (proven in the step after, or by the test named).
 */
const NOT_A_REQUEST_HERE: Record<string, string> = {
  "update databaseclusters/finalizers.database.example.com":
    "checked by the OwnerReferencesPermissionEnforcement admission plugin when children set " +
    "blockOwnerDeletion, not a request of its own (the last step shows the refusal without it)",
  "get databaseclusters.database.example.com":
    "withFinalizer re-reads the cluster after a finalizer patch lost a race (tests/runtime_finalizer_test.ts); " +
    "and RBAC's escalation check lets dbop grant get in the instance Role only because it holds it " +
    "(the step after shows the refusal without it)",
  "patch events.events.k8s.io":
    "a repeated event updates its series (tests/runtime_events_test.ts)",
};

interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: {
    apiGroup?: string;
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  responseStatus?: { code?: number; message?: string };
  stage: string;
  requestReceivedTimestamp?: string;
}

async function auditedRequests(path: string): Promise<AuditEvent[]> {
  const text = await Deno.readTextFile(path);
  return text.trim().split("\n").map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) =>
      e.user.username === SA_USER && e.stage === "ResponseComplete" && e.objectRef?.resource
    );
}

function grantKey(group: string, resource: string, verb: string): string {
  return `${verb} ${group ? `${resource}.${group}` : resource}`;
}

function inClusterEnv(cp: ControlPlane, home: string): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: new URL(cp.server).port,
  };
}

/** Writes a fresh token for the dbop ServiceAccount, with the CA and namespace, into `dir`. */
async function serviceAccountFiles(
  cluster: TestCluster,
  cp: ControlPlane,
  dir: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const token = await cluster.kubectlOk([
    "create",
    "token",
    "dbop",
    "-n",
    "dbop-system",
    "--duration=2h",
  ]);
  await Deno.writeTextFile(`${dir}/token`, token.trim());
  await Deno.copyFile(cp.pki.caCert, `${dir}/ca.crt`);
  await Deno.writeTextFile(`${dir}/namespace`, "dbop-system");
}

async function applyManifests(cluster: TestCluster, cp: ControlPlane): Promise<void> {
  await cluster.kubectlOk(["apply", "--server-side", "-k", `${ROOT}deploy/default`]);
  await cluster.kubectlOk([
    "wait",
    "--for=condition=Available",
    "deployment/dbop",
    "-n",
    "dbop-system",
    "--timeout=90s",
  ]);
  const deployment = await getJson(cluster, ["get", "deployment", "dbop", "-n", "dbop-system"]);
  assert.equal(deployment.status.availableReplicas, 2);
  // The fake nodes run no containers: scale the manager to zero so only the dbop under test writes.
  await cluster.kubectlOk(["scale", "deployment/dbop", "-n", "dbop-system", "--replicas=0"]);
  assert.equal(
    await renderInstall(`${cp.binDir}/kubectl`),
    await Deno.readTextFile(`${ROOT}deploy/install.yaml`),
    "deploy/install.yaml is stale: run deno task manifests",
  );
  await cluster.kubectlOk(["apply", "--dry-run=server", "-f", `${ROOT}deploy/install.yaml`]);
}

async function outOfCluster(cluster: TestCluster, cp: ControlPlane): Promise<void> {
  const dbop = new DbopProcess([
    "run",
    "--kubeconfig",
    cp.kubeconfigPath,
    "--leader-elect",
    "--leader-election-namespace=default",
    "--leader-election-id=dbop-out-of-cluster",
    "--install-crds",
    "--metrics-bind-address=0",
    "--health-probe-bind-address=0",
    "--log-format=json",
  ]);
  try {
    await cluster.kubectlOk(["create", "namespace", "outside"]);
    await cluster.kubectlOk(["apply", "-n", "outside", "-f", `${ROOT}deploy/samples/minimal.yaml`]);
    const dbc = await waitForPhase(cluster, "outside", "minimal", "Running", 120_000);
    report(
      `out-of-cluster: sample Running ${Date.now() - dbop.startedAt} ms after the process started`,
    );
    assert.equal(dbc.status.readyDisplay, "1/1");
    assert.match(dbop.stderr, /Applied the DatabaseCluster CRD/);
  } finally {
    const stopped = await dbop.stop("SIGTERM");
    report(`out-of-cluster: SIGTERM to exit ${stopped.ms} ms, exit code ${stopped.code}`);
    assert.equal(stopped.code, 0, dbop.stderr.slice(-2000));
    assert.ok(stopped.ms < 10_000, "stops within the grace period");
  }
  const lease = await getJson(cluster, ["get", "lease", "dbop-out-of-cluster", "-n", "default"]);
  assert.ok(!lease.spec.holderIdentity, "the lease is released");
}

/** Every grant the ServiceAccount's audited requests used; an apply that created counts for create. */
function grantsUsed(requests: AuditEvent[]): Set<string> {
  return new Set(requests.flatMap((e) => {
    const ref = e.objectRef!;
    const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource!;
    const key = grantKey(ref.apiGroup ?? "", resource, e.verb);
    return e.verb === "patch" && e.responseStatus?.code === 201
      ? [key, grantKey(ref.apiGroup ?? "", resource, "create")]
      : [key];
  }));
}

async function inCluster(cluster: TestCluster, cp: ControlPlane, dir: string): Promise<void> {
  await serviceAccountFiles(cluster, cp, `${dir}/serviceaccount`);
  await Deno.mkdir(`${dir}/home`, { recursive: true });
  const dbop = new DbopProcess(
    [
      "run",
      "--leader-elect",
      `--service-account-dir=${dir}/serviceaccount`,
      "--metrics-bind-address=0",
      "--health-probe-bind-address=0",
      "--log-format=json",
    ],
    { clearEnv: true, env: inClusterEnv(cp, `${dir}/home`) },
  );
  try {
    await exerciseEveryPath(cluster, "inside").catch(async (error) => {
      const shop = await cluster.kubectl(["get", "dbc", "shop", "-n", "inside", "-o", "yaml"]);
      const failed = (await auditedRequests(cp.auditLogPath))
        .filter((e) => e.objectRef?.namespace === "inside" && (e.responseStatus?.code ?? 0) >= 400)
        .slice(0, 10)
        .map((e) =>
          `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}: ${e.responseStatus?.code} ` +
          (e.responseStatus?.message ?? "")
        );
      const warnings = dbop.stderr.split("\n")
        .filter((line) => /"level":"(WARN|ERROR)"/.test(line)).slice(0, 10);
      throw new Error(
        `${(error as Error).message}\n--- the cluster\n${shop.stdout}\n--- requests that ` +
          `failed\n${failed.join("\n")}\n--- dbop's warnings\n${warnings.join("\n")}`,
      );
    });
  } finally {
    const stopped = await dbop.stop("SIGTERM");
    assert.equal(stopped.code, 0, dbop.stderr.slice(-3000));
  }
  assert.match(dbop.stderr, /in-cluster service account/);
  const lease = await getJson(cluster, ["get", "lease", "dbop-leader", "-n", "dbop-system"]);
  assert.ok(!lease.spec.holderIdentity, "the lease is released");

  const requests = await auditedRequests(cp.auditLogPath);
  // Right after the CRD is installed, the owner-references admission may not map its kind
  // yet (a 403 naming RESTMapping, not RBAC): dbop retries those with backoff.
  const unmapped = (e: AuditEvent) =>
    /cannot find RESTMapping/.test(e.responseStatus?.message ?? "");
  report(
    `in-cluster: ${
      requests.filter((e) => e.responseStatus?.code === 403 && unmapped(e)).length
    } writes refused while the API server did not yet map the CRD's kind, retried`,
  );
  const refused = requests.filter((e) => e.responseStatus?.code === 403 && !unmapped(e))
    .map((e) =>
      `${grantKey(e.objectRef!.apiGroup ?? "", e.objectRef!.resource!, e.verb)} ` +
      `${e.objectRef!.namespace ?? ""}/${
        e.objectRef!.name ?? ""
      } at ${e.requestReceivedTimestamp}: ` +
      (e.responseStatus?.message ?? "")
    );
  assert.deepEqual(refused, [], "nothing dbop did was forbidden");
  const used = grantsUsed(requests);
  const granted = [...CLUSTER_RULES, ...LEADER_ELECTION_RULES].flatMap((rule) =>
    rule.resources.flatMap((resource) =>
      rule.verbs.map((verb) => grantKey(rule.apiGroups[0], resource, verb))
    )
  );
  const unused = granted.filter((g) => !used.has(g) && !(g in NOT_A_REQUEST_HERE));
  report(
    `in-cluster: ${requests.length} audited requests used ${used.size} of ${granted.length} grants`,
  );
  for (const line of auditSummary(requests, ["serviceaccounts", "roles", "rolebindings"])) {
    report(`in-cluster audit: ${line}`);
  }
  assert.deepEqual(unused, [], "every granted verb was used by a tested path");
}

/** One line per verb, resource and response code of the audited requests on `resources`. */
function auditSummary(requests: AuditEvent[], resources: string[]): string[] {
  const lines = new Map<string, Set<string>>();
  for (const e of requests) {
    const ref = e.objectRef!;
    if (!resources.includes(ref.resource!)) continue;
    const key = `${
      grantKey(ref.apiGroup ?? "", ref.resource!, e.verb)
    } -> ${e.responseStatus?.code}`;
    const names = lines.get(key) ?? new Set();
    names.add(ref.name ? `${ref.namespace}/${ref.name}` : "(all namespaces)");
    lines.set(key, names);
  }
  return [...lines].sort().map(([key, names]) => `${key}: ${[...names].join(", ")}`);
}

async function withRole(
  cluster: TestCluster,
  without: string,
  fn: () => Promise<void>,
): Promise<void> {
  const role = buildClusterRole() as Obj;
  role.rules = role.rules.filter((r: Obj) => !r.resources.includes(without));
  await cluster.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(role) });
  try {
    await fn();
  } finally {
    await cluster.kubectlOk(["apply", "-f", `${ROOT}deploy/rbac/role.yaml`]);
  }
}

async function missingRuleRefused(
  cluster: TestCluster,
  cp: ControlPlane,
  dir: string,
): Promise<void> {
  await withRole(cluster, "statefulsets", async () => {
    await serviceAccountFiles(cluster, cp, `${dir}/serviceaccount`);
    const dbop = new DbopProcess(
      [
        "run",
        `--service-account-dir=${dir}/serviceaccount`,
        "--metrics-bind-address=0",
        "--health-probe-bind-address=0",
      ],
      { clearEnv: true, env: inClusterEnv(cp, `${dir}/home`) },
    );
    const { code, stderr } = await dbop.exit();
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^dbop: Missing permission: cannot "list" statefulsets\.apps cluster-wide \(needed to the PostgreSQL instances/m,
    );
  });
}

async function finalizersRuleNeeded(
  cluster: TestCluster,
  cp: ControlPlane,
  dir: string,
): Promise<void> {
  await withRole(cluster, "databaseclusters/finalizers", async () => {
    await cluster.kubectlOk(["apply", "-n", "inside", "-f", `${ROOT}deploy/samples/minimal.yaml`]);
    const owner = await getJson(cluster, ["get", "dbc", "minimal", "-n", "inside"]);
    await serviceAccountFiles(cluster, cp, `${dir}/serviceaccount`);
    const env = inClusterEnv(cp, `${dir}/home`);
    const asDbop = new Resources(
      new KubeClient(
        loadKubeConfig({ serviceAccountDir: `${dir}/serviceaccount`, env: (n) => env[n] })
          .credentials,
      ),
      { fieldManager: FIELD_MANAGER },
    );
    try {
      await assert.rejects(
        asDbop.apply(ConfigMaps, {
          metadata: {
            name: "owned",
            namespace: "inside",
            ownerReferences: [{
              apiVersion: "database.example.com/v1",
              kind: "DatabaseCluster",
              name: "minimal",
              uid: owner.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            }],
          },
        }),
        (e) => e instanceof ForbiddenError && /blockOwnerDeletion/.test(e.message),
      );
    } finally {
      asDbop.client.close();
    }
  });
}

/** The ClusterRole with one grant taken away, and what the refusal must then name. */
const WITHHELD: { what: string; rules: (rules: Obj[]) => Obj[]; refusal: RegExp }[] = [
  {
    what: "get of databaseclusters",
    rules: (rules) =>
      rules.map((r) =>
        r.resources.includes("databaseclusters")
          ? { ...r, verbs: r.verbs.filter((v: string) => v !== "get") }
          : r
      ),
    refusal: /databaseclusters.*get/s,
  },
  {
    // The leader-election Role grants them too, but only in dbop's own namespace.
    what: "the Lease verbs",
    rules: (rules) => rules.filter((r) => !r.resources.includes("leases")),
    refusal: /leases.*(get|update|create)/s,
  },
];

/**
 * RBAC's escalation check, as dbop meets it: without one verb the instance Role grants
 * (`get` of databaseclusters; the Lease verbs, held cluster-wide), dbop cannot create that
 * Role; it holds the verbs, not `escalate` or `bind`.
 */
async function instanceRoleNeedsHeldGrants(
  cluster: TestCluster,
  cp: ControlPlane,
  dir: string,
): Promise<void> {
  const shipped = buildClusterRole() as Obj;
  assert.ok(
    !shipped.rules.some((r: Obj) => r.verbs.includes("escalate") || r.verbs.includes("bind")),
    "no escalate or bind",
  );
  await serviceAccountFiles(cluster, cp, `${dir}/serviceaccount`);
  const env = inClusterEnv(cp, `${dir}/home`);
  const asDbop = new Resources(
    new KubeClient(
      loadKubeConfig({ serviceAccountDir: `${dir}/serviceaccount`, env: (n) => env[n] })
        .credentials,
    ),
    { fieldManager: FIELD_MANAGER },
  );
  const instanceRole = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "escalation-instance", namespace: "inside" },
    rules: instanceRules("escalation", [
      "escalation-superuser",
      "escalation-replication",
      "escalation-app",
    ]),
  };
  try {
    for (const withheld of WITHHELD) {
      const role = { ...shipped, rules: withheld.rules(shipped.rules) };
      await cluster.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(role) });
      // RBAC changes reach the authorizer's cache asynchronously: wait for the refusal.
      const refusal = await eventually(
        `the instance Role refused without ${withheld.what}`,
        async () => {
          try {
            await asDbop.apply(Roles, instanceRole, { dryRun: true });
            return undefined;
          } catch (error) {
            return error instanceof ForbiddenError && withheld.refusal.test(error.message)
              ? error
              : undefined;
          }
        },
      );
      assert.match(refusal.message, /is attempting to grant RBAC permissions not currently held/);
      await cluster.kubectlOk(["apply", "-f", `${ROOT}deploy/rbac/role.yaml`]);
      await eventually("the instance Role allowed with the shipped ClusterRole", async () => {
        try {
          await asDbop.apply(Roles, instanceRole, { dryRun: true });
          return true;
        } catch {
          return undefined;
        }
      });
    }
  } finally {
    await cluster.kubectlOk(["apply", "-f", `${ROOT}deploy/rbac/role.yaml`]);
    asDbop.client.close();
  }
}

Deno.test({
  name:
    "manifests apply, dbop runs out of and in the cluster with least-privilege RBAC, and the role is minimal",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const cp = await startControlPlane();
    const cluster = makeTestCluster(cp.kubeconfigPath, cp.binDir);
    const dir = await Deno.makeTempDir({ prefix: "dbop-deploy-" });
    let failed = true;
    try {
      await t.step(
        "kubectl apply -k deploy/default: the manager becomes Available; install.yaml is current and dry-runs",
        () => applyManifests(cluster, cp),
      );
      await ensureCrd(cluster);
      await installPodMonitorCrd(cluster);
      await t.step(
        "out of the cluster from a kubeconfig: converges; SIGTERM stops it with the lease released",
        () => outOfCluster(cluster, cp),
      );
      await t.step(
        "in the cluster with only the shipped ServiceAccount: every path works, every grant is used, none refused",
        () => inCluster(cluster, cp, dir),
      );
      await t.step(
        "a ClusterRole missing a rule is refused at start with the permission named",
        () => missingRuleRefused(cluster, cp, dir),
      );
      await t.step(
        "without databaseclusters/finalizers a child owned with blockOwnerDeletion is refused",
        () => finalizersRuleNeeded(cluster, cp, dir),
      );
      await t.step(
        "without a verb the instance Role grants (get of databaseclusters, the Lease verbs), dbop cannot create that Role (escalation check)",
        () => instanceRoleNeedsHeldGrants(cluster, cp, dir),
      );
      failed = false;
    } finally {
      await cp.stop({ printLogs: failed });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
