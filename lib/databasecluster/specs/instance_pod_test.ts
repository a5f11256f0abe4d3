import assert from "node:assert/strict";
import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import { testCluster } from "../testdata/clusters.ts";
import { instanceOptionsFromEnv } from "../../instance/options.ts";
import { buildInstancePodSpec } from "./instance_pod.ts";

function container(spec: ReturnType<typeof buildInstancePodSpec>, name: string): V1Container {
  const found = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === name);
  assert.ok(found, `no container "${name}"`);
  return found;
}

function env(c: V1Container, name: string): V1EnvVar | undefined {
  return c.env?.find((variable) => variable.name === name);
}

Deno.test("the PostgreSQL container runs dbop's instance manager as PID 1", () => {
  const postgres = container(buildInstancePodSpec(testCluster({ version: "17.2" })), "postgres");
  assert.equal(postgres.image, "postgres:17.2");
  assert.deepEqual(postgres.command, ["/controller/dbop", "instance", "run"]);
  assert.equal(postgres.args, undefined);
  assert.deepEqual(postgres.ports, [
    { name: "postgresql", containerPort: 5432, protocol: "TCP" },
    { name: "status", containerPort: 8000, protocol: "TCP" },
  ]);
  assert.equal(env(postgres, "PGDATA")?.value, "/var/lib/postgresql/data/pgdata");
  assert.equal(postgres.lifecycle, undefined);
});

Deno.test("an init container copies dbop's binary from dbop's image into a shared volume", () => {
  const spec = buildInstancePodSpec(testCluster(), { instanceImage: "registry.local/dbop:1.2.3" });
  assert.deepEqual(spec.initContainers?.map((c) => c.name), ["dbop-install"]);
  const install = container(spec, "dbop-install");
  assert.equal(install.image, "registry.local/dbop:1.2.3");
  assert.deepEqual(install.command, [
    "/usr/local/bin/dbop",
    "instance",
    "install",
    "/controller/dbop",
  ]);
  assert.deepEqual(install.volumeMounts, [{ name: "controller", mountPath: "/controller" }]);
  assert.deepEqual(spec.volumes?.find((v) => v.name === "controller"), {
    name: "controller",
    emptyDir: {},
  });
  assert.ok(
    container(spec, "postgres").volumeMounts?.some((m) =>
      m.name === "controller" && m.mountPath === "/controller" && m.readOnly
    ),
  );
  assert.equal(install.env, undefined);
  assert.match(
    container(buildInstancePodSpec(testCluster()), "dbop-install").image ?? "",
    /^ghcr\.io\/dbop\/dbop:\d/,
  );
});

Deno.test("no instance's role is in the template: every pod gets the same environment", () => {
  const postgres = container(buildInstancePodSpec(testCluster({ replicas: 3 })), "postgres");
  const field = (name: string) => env(postgres, name)?.valueFrom?.fieldRef?.fieldPath;
  assert.equal(field("POD_NAME"), "metadata.name");
  assert.equal(field("POD_NAMESPACE"), "metadata.namespace");
  assert.equal(field("POD_IP"), "status.podIP");
  assert.equal(env(postgres, "PRIMARY_POD"), undefined);
  assert.equal(env(postgres, "DBOP_CLUSTER")?.value, "pg");
  assert.equal(env(postgres, "PRIMARY_HOST")?.value, "pg-rw");
  assert.equal(env(postgres, "REPLICATION_USER")?.value, "streaming_replica");
});

Deno.test("the pod's environment is exactly what the instance manager reads", () => {
  const postgres = container(buildInstancePodSpec(testCluster()), "postgres");
  const values = new Map((postgres.env ?? []).map((v) => [v.name, v.value ?? `<${v.name}>`]));
  const read = new Set<string>();
  const options = instanceOptionsFromEnv((name) => {
    read.add(name);
    return values.get(name);
  });
  assert.equal(options.podIp, "<POD_IP>");
  assert.deepEqual(options.status, { port: 8000, token: "<DBOP_STATUS_TOKEN>" });
  assert.equal(options.stopTimeoutMs, 50_000);
  const unread = [...values.keys()].filter((name) => !read.has(name));
  assert.deepEqual(unread, []);
});

Deno.test("passwords come from the Secrets by reference, never inline", () => {
  const spec = buildInstancePodSpec(testCluster());
  const postgres = container(spec, "postgres");
  const ref = (name: string) => env(postgres, name)?.valueFrom?.secretKeyRef;
  assert.deepEqual(ref("POSTGRES_PASSWORD"), { name: "pg-superuser", key: "password" });
  assert.deepEqual(ref("REPLICATION_PASSWORD"), { name: "pg-replication", key: "password" });
  assert.deepEqual(ref("APP_USER"), { name: "pg-app", key: "username" });
  assert.deepEqual(ref("APP_PASSWORD"), { name: "pg-app", key: "password" });
  assert.deepEqual(ref("DBOP_STATUS_TOKEN"), { name: "pg-status", key: "token" });
  assert.equal(env(postgres, "APP_DATABASE")?.value, "app");
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const variable of c.env ?? []) {
      if (/PASSWORD$|TOKEN$/.test(variable.name) && variable.name !== "PASSWORD_ENCRYPTION") {
        assert.equal(variable.value, undefined, variable.name);
      }
    }
  }
});

Deno.test("the application owner comes from existingSecret when set", () => {
  const cluster = testCluster({ security: { authentication: { existingSecret: "creds" } } });
  const postgres = container(buildInstancePodSpec(cluster), "postgres");
  assert.deepEqual(env(postgres, "APP_USER")?.valueFrom?.secretKeyRef, {
    name: "creds",
    key: "username",
  });
});

Deno.test("probes ask the instance manager: readiness is PostgreSQL's, liveness the manager's", () => {
  const postgres = container(buildInstancePodSpec(testCluster()), "postgres");
  assert.deepEqual(postgres.readinessProbe?.httpGet, { path: "/readyz", port: "status" });
  assert.deepEqual(postgres.livenessProbe?.httpGet, { path: "/healthz", port: "status" });
  assert.equal(postgres.startupProbe, undefined);
});

Deno.test("the pod runs as the postgres user with fsGroup and no privileges", () => {
  const spec = buildInstancePodSpec(testCluster());
  assert.equal(spec.securityContext?.runAsUser, 999);
  assert.equal(spec.securityContext?.fsGroup, 999);
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.equal(spec.serviceAccountName, "pg-instance");
  assert.equal(spec.automountServiceAccountToken, undefined);
  assert.equal(spec.enableServiceLinks, false);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, c.name);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], c.name);
  }
});

Deno.test("instances spread over nodes, preferred or required, and over zones", () => {
  const selector = {
    matchLabels: {
      "database.example.com/cluster": "pg",
      "app.kubernetes.io/component": "database",
    },
  };
  const preferred = buildInstancePodSpec(testCluster()).affinity?.podAntiAffinity;
  assert.deepEqual(preferred?.preferredDuringSchedulingIgnoredDuringExecution, [
    {
      weight: 100,
      podAffinityTerm: { labelSelector: selector, topologyKey: "kubernetes.io/hostname" },
    },
  ]);
  assert.equal(preferred?.requiredDuringSchedulingIgnoredDuringExecution, undefined);
  const required = buildInstancePodSpec(testCluster({ ha: { podAntiAffinity: "required" } }));
  assert.deepEqual(
    required.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
    [
      { labelSelector: selector, topologyKey: "kubernetes.io/hostname" },
    ],
  );
  assert.deepEqual(required.topologySpreadConstraints, [{
    maxSkew: 1,
    topologyKey: "topology.kubernetes.io/zone",
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector: selector,
  }]);
});

Deno.test("the configuration and the certificate are followed from the API server, not mounted", () => {
  const spec = buildInstancePodSpec(testCluster());
  assert.ok(spec.volumes?.every((v) => !v.configMap && !v.secret), "no ConfigMap or Secret volume");
  const files = spec.volumes?.find((v) => v.name === "files");
  assert.deepEqual(files?.emptyDir, { medium: "Memory", sizeLimit: "1Mi" });
  const postgres = container(spec, "postgres");
  assert.ok(postgres.volumeMounts?.some((m) => m.name === "files" && m.mountPath === "/etc/dbop"));
  assert.equal(env(postgres, "DBOP_CONFIG_MAP")?.value, "pg-config");
  assert.equal(env(postgres, "DBOP_CONFIG_DIR")?.value, "/etc/dbop/config");
  assert.equal(env(postgres, "DBOP_TLS_SECRET")?.value, "pg-server");
  assert.equal(env(postgres, "DBOP_TLS_DIR")?.value, "/etc/dbop/tls");
  const theirs = buildInstancePodSpec(
    testCluster({ security: { tls: { enabled: true, secretName: "mine" } } }),
  );
  assert.equal(env(container(theirs, "postgres"), "DBOP_TLS_SECRET")?.value, "mine");
  const plain = buildInstancePodSpec(testCluster({ security: { tls: { enabled: false } } }));
  assert.equal(env(container(plain, "postgres"), "DBOP_TLS_SECRET"), undefined);
  assert.equal(env(container(plain, "postgres"), "DBOP_TLS_DIR"), undefined);
});

Deno.test("replication verifies dbop's CA, only requires TLS with the user's, and skips it without", () => {
  const sslmode = (cluster: ReturnType<typeof testCluster>) =>
    env(container(buildInstancePodSpec(cluster), "postgres"), "REPLICATION_SSLMODE")?.value;
  const ours = container(buildInstancePodSpec(testCluster()), "postgres");
  assert.equal(env(ours, "REPLICATION_SSLMODE")?.value, "verify-ca");
  assert.equal(env(ours, "REPLICATION_SSLROOTCERT")?.value, "/etc/dbop/tls/ca.crt");
  assert.equal(
    sslmode(testCluster({ security: { tls: { enabled: true, secretName: "mine" } } })),
    "require",
  );
  const plain = testCluster({ security: { tls: { enabled: false } } });
  assert.equal(sslmode(plain), "disable");
});

Deno.test("monitoring adds the exporter with a port named metrics, on the socket as pg_monitor", () => {
  assert.deepEqual(buildInstancePodSpec(testCluster()).containers.map((c) => c.name), ["postgres"]);
  const spec = buildInstancePodSpec(
    testCluster({ monitoring: { enabled: true, port: 9300, path: "/m" } }),
  );
  const exporter = container(spec, "exporter");
  assert.deepEqual(exporter.ports, [{ name: "metrics", containerPort: 9300, protocol: "TCP" }]);
  assert.deepEqual(exporter.args, ["--web.listen-address=:9300", "--web.telemetry-path=/m"]);
  assert.deepEqual(exporter.env, [{
    name: "DATA_SOURCE_NAME",
    value: "host=/var/run/postgresql port=5432 user=dbop_monitor dbname=postgres sslmode=disable",
  }]);
  const postgres = container(spec, "postgres");
  const socketDir = postgres.volumeMounts?.find((m) => m.mountPath === "/var/run/postgresql");
  assert.deepEqual(
    exporter.volumeMounts,
    [socketDir],
    "the PostgreSQL container's socket directory",
  );
});

Deno.test("the spec's resources apply to the PostgreSQL container", () => {
  const cluster = testCluster({
    resources: { requests: { cpu: "500m" }, limits: { memory: "1Gi" } },
  });
  assert.deepEqual(container(buildInstancePodSpec(cluster), "postgres").resources, {
    requests: { cpu: "500m" },
    limits: { memory: "1Gi" },
  });
  assert.equal(container(buildInstancePodSpec(testCluster()), "postgres").resources, undefined);
});

Deno.test("spec.scheduling and the pull settings reach the pod spec, dbop's anti-affinity kept", () => {
  const userTerm = {
    labelSelector: { matchLabels: { app: "cache" } },
    topologyKey: "kubernetes.io/hostname",
  };
  const nodeAffinity = {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{
        matchExpressions: [{ key: "disk", operator: "In" as const, values: ["ssd"] }],
      }],
    },
  };
  const tolerations = [{
    key: "dedicated",
    operator: "Equal" as const,
    value: "db",
    effect: "NoSchedule" as const,
  }];
  const spec = buildInstancePodSpec(testCluster({
    ha: { podAntiAffinity: "required" },
    monitoring: { enabled: true },
    scheduling: {
      nodeSelector: { pool: "db" },
      tolerations,
      affinity: {
        nodeAffinity,
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 50,
            podAffinityTerm: userTerm,
          }],
        },
      },
      priorityClassName: "databases",
    },
    imagePullPolicy: "Always",
    imagePullSecrets: [{ name: "registry" }],
  }));
  assert.deepEqual(spec.nodeSelector, { pool: "db" });
  assert.deepEqual(spec.tolerations, tolerations);
  assert.equal(spec.priorityClassName, "databases");
  assert.deepEqual(spec.imagePullSecrets, [{ name: "registry" }]);
  assert.deepEqual(spec.affinity?.nodeAffinity, nodeAffinity);
  const antiAffinity = spec.affinity?.podAntiAffinity;
  assert.deepEqual(antiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, [{
    labelSelector: {
      matchLabels: {
        "database.example.com/cluster": "pg",
        "app.kubernetes.io/component": "database",
      },
    },
    topologyKey: "kubernetes.io/hostname",
  }]);
  assert.deepEqual(antiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, [
    { weight: 50, podAffinityTerm: userTerm },
  ]);
  for (const name of ["dbop-install", "postgres", "exporter"]) {
    assert.equal(container(spec, name).imagePullPolicy, "Always", name);
  }
  const plain = buildInstancePodSpec(testCluster());
  for (const field of ["nodeSelector", "tolerations", "priorityClassName", "imagePullSecrets"]) {
    assert.equal(field in plain, false, field);
  }
  assert.equal(container(plain, "postgres").imagePullPolicy, undefined);
  assert.deepEqual(Object.keys(plain.affinity ?? {}), ["podAntiAffinity"]);
});
