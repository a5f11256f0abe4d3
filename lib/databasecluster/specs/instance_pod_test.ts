import assert from "node:assert/strict";
import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import { testCluster } from "../testdata/clusters.ts";
import { buildInstancePodSpec } from "./instance_pod.ts";

function container(spec: ReturnType<typeof buildInstancePodSpec>, name: string): V1Container {
  const found = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === name);
  assert.ok(found, `no container "${name}"`);
  return found;
}

function env(c: V1Container, name: string): V1EnvVar | undefined {
  return c.env?.find((variable) => variable.name === name);
}

Deno.test("the PostgreSQL container starts through start.sh and the image's entrypoint", () => {
  const postgres = container(buildInstancePodSpec(testCluster({ version: "17.2" })), "postgres");
  assert.equal(postgres.image, "postgres:17.2");
  assert.deepEqual(postgres.command, ["/bin/sh", "/etc/dbop/config/start.sh"]);
  assert.deepEqual(postgres.args, [
    "docker-entrypoint.sh",
    "postgres",
    "-c",
    "config_file=/etc/dbop/config/postgresql.conf",
  ]);
  assert.deepEqual(postgres.ports, [{ name: "postgresql", containerPort: 5432, protocol: "TCP" }]);
  assert.equal(env(postgres, "PGDATA")?.value, "/var/lib/postgresql/data/pgdata");
});

Deno.test("ordinal 0 is the primary and the others stream from the -rw Service", () => {
  const spec = buildInstancePodSpec(testCluster({ replicas: 3 }));
  for (const name of ["postgres", "clone-replica"]) {
    const c = container(spec, name);
    assert.deepEqual(env(c, "POD_NAME")?.valueFrom, { fieldRef: { fieldPath: "metadata.name" } });
    assert.equal(env(c, "PRIMARY_POD")?.value, "pg-0");
    assert.equal(env(c, "PRIMARY_HOST")?.value, "pg-rw");
    assert.equal(env(c, "REPLICATION_USER")?.value, "streaming_replica");
  }
});

Deno.test("the clone-replica init container clones into the data volume", () => {
  const spec = buildInstancePodSpec(testCluster());
  assert.deepEqual(spec.initContainers?.map((c) => c.name), ["clone-replica"]);
  const clone = container(spec, "clone-replica");
  assert.deepEqual(clone.command, ["/bin/sh", "/etc/dbop/config/clone-replica.sh"]);
  assert.ok(
    clone.volumeMounts?.some((m) =>
      m.name === "data" && m.mountPath === "/var/lib/postgresql/data"
    ),
  );
  assert.equal(env(clone, "POSTGRES_PASSWORD"), undefined);
});

Deno.test("passwords come from the Secrets by reference, never inline", () => {
  const spec = buildInstancePodSpec(testCluster());
  const postgres = container(spec, "postgres");
  const ref = (name: string) => env(postgres, name)?.valueFrom?.secretKeyRef;
  assert.deepEqual(ref("POSTGRES_PASSWORD"), { name: "pg-superuser", key: "password" });
  assert.deepEqual(ref("REPLICATION_PASSWORD"), { name: "pg-replication", key: "password" });
  assert.deepEqual(ref("APP_USER"), { name: "pg-app", key: "username" });
  assert.deepEqual(ref("APP_PASSWORD"), { name: "pg-app", key: "password" });
  assert.equal(env(postgres, "APP_DATABASE")?.value, "app");
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const variable of c.env ?? []) {
      if (/PASS/.test(variable.name)) assert.equal(variable.value, undefined, variable.name);
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

Deno.test("probes use pg_isready over TCP on the configured port; liveness only fails without an answer", () => {
  const postgres = container(
    buildInstancePodSpec(testCluster({ network: { port: 6000 } })),
    "postgres",
  );
  const ready = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "6000"];
  assert.deepEqual(postgres.readinessProbe?.exec?.command, ready);
  assert.deepEqual(postgres.startupProbe?.exec?.command, ready);
  assert.ok(
    (postgres.startupProbe?.failureThreshold ?? 0) * (postgres.startupProbe?.periodSeconds ?? 0) >=
      3600,
  );
  const live = postgres.livenessProbe?.exec?.command ?? [];
  assert.equal(live[0], "/bin/sh");
  assert.match(live[2], /^pg_isready -q -h 127\.0\.0\.1 -p 6000; \[ "\$\?" -ne 2 \]$/);
});

Deno.test("the pod runs as the postgres user with fsGroup and no privileges", () => {
  const spec = buildInstancePodSpec(testCluster());
  assert.equal(spec.securityContext?.runAsUser, 999);
  assert.equal(spec.securityContext?.fsGroup, 999);
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.equal(spec.automountServiceAccountToken, false);
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

Deno.test("the configuration, the init script and the certificate are mounted", () => {
  const spec = buildInstancePodSpec(testCluster());
  const volume = (name: string) => spec.volumes?.find((v) => v.name === name);
  assert.equal(volume("config")?.configMap?.name, "pg-config");
  assert.deepEqual(volume("initdb")?.configMap?.items, [
    { key: "init-primary.sh", path: "10-dbop-init-primary.sh" },
  ]);
  assert.equal(volume("tls")?.secret?.secretName, "pg-server");
  const mounts = container(spec, "postgres").volumeMounts?.map((m) => m.mountPath);
  assert.ok(mounts?.includes("/docker-entrypoint-initdb.d"));
  assert.ok(mounts?.includes("/etc/dbop/tls"));
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
  assert.equal(buildInstancePodSpec(plain).volumes?.some((v) => v.name === "tls"), false);
});

Deno.test("monitoring adds the exporter with a port named metrics", () => {
  assert.deepEqual(buildInstancePodSpec(testCluster()).containers.map((c) => c.name), ["postgres"]);
  const spec = buildInstancePodSpec(
    testCluster({ monitoring: { enabled: true, port: 9300, path: "/m" } }),
  );
  const exporter = container(spec, "exporter");
  assert.deepEqual(exporter.ports, [{ name: "metrics", containerPort: 9300, protocol: "TCP" }]);
  assert.deepEqual(exporter.args, ["--web.listen-address=:9300", "--web.telemetry-path=/m"]);
  assert.deepEqual(env(exporter, "DATA_SOURCE_PASS")?.valueFrom?.secretKeyRef, {
    name: "pg-superuser",
    key: "password",
  });
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
