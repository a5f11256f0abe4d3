/**
 * The DatabaseCluster API against a real API server, through kubectl: the
 * generated CRD installs, defaults and validation (OpenAPI and CEL) behave as
 * the zod schema says, update rules hold, v1beta1 and v1 convert losslessly,
 * and scale, explain and get work as users expect.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CRD_PATH,
  DatabaseClusterSpec,
  type DatabaseClusterSpecInput,
  type DatabaseClusterStatus,
} from "../lib/api/mod.ts";
import { INVALID_SPECS, MINIMAL, VALID_SPECS } from "../lib/api/testdata/spec_cases.ts";
import { eventually, testCluster } from "./harness/mod.ts";

const cluster = await testCluster();
const ROOT = new URL("../", import.meta.url);
const GROUP = "database.example.com";
const V1 = `databaseclusters.v1.${GROUP}`;
const V1BETA1 = `databaseclusters.v1beta1.${GROUP}`;

const minimal = MINIMAL;

let crdInstalled: Promise<void> | undefined;

/** Applies the committed CRD once per run and waits until it is served. */
function installCrd(): Promise<void> {
  crdInstalled ??= (async () => {
    await cluster.kubectlOk(["apply", "-f", new URL(CRD_PATH, ROOT).pathname]);
    await cluster.kubectlOk([
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      `crd/databaseclusters.${GROUP}`,
    ]);
  })();
  return crdInstalled;
}

/** Runs `body` in a fresh namespace (with the CRD installed) and deletes the namespace after. */
async function inNamespace(prefix: string, body: (ns: string) => Promise<void>): Promise<void> {
  await installCrd();
  const ns = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  await cluster.kubectlOk(["create", "namespace", ns]);
  try {
    await body(ns);
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
}

function manifest(name: string, spec: unknown, version = "v1"): string {
  return JSON.stringify({
    apiVersion: `${GROUP}/${version}`,
    kind: "DatabaseCluster",
    metadata: { name },
    ...(spec === undefined ? {} : { spec }),
  });
}

/** A DatabaseCluster as `kubectl get -o json` prints it. */
interface Stored {
  apiVersion: string;
  spec: DatabaseClusterSpec;
  status?: DatabaseClusterStatus;
}

/** kubectl arguments for a JSON merge patch of `resource` (such as `dbc/pg`). */
function patchArgs(ns: string, resource: string, patch: unknown, subresource?: string): string[] {
  const args = ["patch", resource, "-n", ns, "--type=merge", "-p", JSON.stringify(patch)];
  return subresource ? [...args, `--subresource=${subresource}`] : args;
}

async function getJson<T = Stored>(args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectlOk(["get", ...args, "-o", "json"])) as T;
}

Deno.test("the generated CRD installs and becomes Established", async () => {
  await installCrd();
  const crd = await getJson<{
    status: {
      conditions: { type: string; status: string }[];
      acceptedNames: { shortNames: string[] };
    };
  }>([`crd/databaseclusters.${GROUP}`]);
  const established = crd.status.conditions.find((c) => c.type === "Established");
  assert.equal(established?.status, "True");
  assert.deepEqual(crd.status.acceptedNames.shortNames, ["dbc"]);
});

Deno.test("the samples are accepted", async () => {
  await inNamespace("api-samples", async (ns) => {
    await cluster.kubectlOk(["apply", "-n", ns, "-k", new URL("deploy/samples", ROOT).pathname]);
    const names = (await cluster.kubectlOk(["get", "dbc", "-n", ns, "-o", "name"])).trim().split(
      "\n",
    );
    assert.deepEqual(names.sort(), [
      `databasecluster.${GROUP}/local`,
      `databasecluster.${GROUP}/minimal`,
      `databasecluster.${GROUP}/my-database-cluster`,
      `databasecluster.${GROUP}/orders`,
    ]);
  });
});

Deno.test("the API server applies the same defaults as the zod schema", async () => {
  await inNamespace("api-defaults", async (ns) => {
    await cluster.kubectlOk(["create", "-n", ns, "-f", "-"], { stdin: manifest("mini", minimal) });
    const stored = await getJson(["dbc", "mini", "-n", ns]);
    assert.deepEqual(stored.spec, DatabaseClusterSpec.parse(minimal));
    assert.equal(stored.spec.network.port, 5432);
    assert.equal(stored.spec.backup.retention, 7);
    assert.equal(stored.spec.security.tls.enabled, true);
  });
});

/** Whether an API error names `field`: as `field: ...` (validation) or `"field"` (strict decoding). */
function namesField(stderr: string, field: string): boolean {
  return stderr.includes(`${field}: `) || stderr.includes(`"${field}"`);
}

/** The shared invalid specs, plus an object with no spec at all; the field as the API server names it. */
const INVALID: { what: string; spec: unknown; field: string }[] = [
  { what: "no spec", spec: undefined, field: "spec" },
  // zod's `tolerations.0.operator` is the API server's `tolerations[0].operator`.
  ...INVALID_SPECS.map((c) => ({
    ...c,
    field: `spec.${c.field.replace(/\.([0-9]+)(?=\.|$)/g, "[$1]")}`,
  })),
];

Deno.test(`the API server rejects ${INVALID.length} invalid objects, naming the field, and stores none`, async () => {
  await inNamespace("api-invalid", async (ns) => {
    for (const [i, { what, spec, field }] of INVALID.entries()) {
      const result = await cluster.kubectl(["create", "-n", ns, "-f", "-"], {
        stdin: manifest(`bad-${i}`, spec),
      });
      assert.notEqual(result.code, 0, `accepted ${what}`);
      assert.ok(
        namesField(result.stderr, field),
        `${what}: "${field}" not named in: ${result.stderr}`,
      );
    }
    assert.equal((await cluster.kubectlOk(["get", "dbc", "-n", ns, "-o", "name"])).trim(), "");
  });
});

Deno.test("zod and the API server agree on valid and invalid specs", async () => {
  await inNamespace("api-agree", async (ns) => {
    const cases = [...VALID_SPECS, ...INVALID];
    for (const [i, { what, spec }] of cases.entries()) {
      const server = await cluster.kubectl(["create", "--dry-run=server", "-n", ns, "-f", "-"], {
        stdin: manifest(`case-${i}`, spec),
      });
      const zod = DatabaseClusterSpec.safeParse(spec);
      assert.equal(
        zod.success,
        server.code === 0,
        `${what}: zod ${zod.success ? "accepts" : "rejects"}, API server says: ${
          server.stderr || server.stdout
        }`,
      );
    }
  });
});

Deno.test("updates cannot shrink storage, downgrade the major or change the storage class", async () => {
  await inNamespace("api-update", async (ns) => {
    const spec = {
      version: "16.2",
      storage: { size: "10Gi", storageClassName: "standard" },
      backup: { storage: { size: "20Gi" } },
    };
    await cluster.kubectlOk(["create", "-n", ns, "-f", "-"], { stdin: manifest("pg", spec) });
    const rejected: [unknown, string, RegExp][] = [
      [
        { storage: { size: "5Gi" } },
        "spec.storage.size",
        /Cannot shrink storage: from "10Gi" to "5Gi"/,
      ],
      [{ storage: { size: "10000Mi" } }, "spec.storage.size", /Cannot shrink storage/],
      [
        { backup: { storage: { size: "1Gi" } } },
        "spec.backup.storage.size",
        /Cannot shrink storage/,
      ],
      [
        { version: "15.8" },
        "spec.version",
        /Cannot downgrade the PostgreSQL major version: from "16.2" to "15.8"/,
      ],
      [
        { storage: { storageClassName: "fast" } },
        "spec.storage.storageClassName",
        /Cannot change storageClassName/,
      ],
      [
        { storage: { storageClassName: null } },
        "spec.storage.storageClassName",
        /Cannot change storageClassName/,
      ],
    ];
    for (const [patch, field, message] of rejected) {
      const result = await cluster.kubectl(patchArgs(ns, "dbc/pg", { spec: patch }));
      assert.notEqual(result.code, 0, `accepted ${JSON.stringify(patch)}`);
      assert.ok(namesField(result.stderr, field), `"${field}" not named in: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const unchanged = await getJson(["dbc", "pg", "-n", ns]);
    assert.deepEqual(unchanged.spec.storage, spec.storage);
    assert.equal(unchanged.spec.version, "16.2");
    const grow = {
      spec: { storage: { size: "20Gi" }, version: "17", backup: { storage: { size: "30Gi" } } },
    };
    await cluster.kubectlOk(patchArgs(ns, "dbc/pg", grow));
    await cluster.kubectlOk(patchArgs(ns, "dbc/pg", { spec: { version: "17.1" } }));
    const grown = await getJson(["dbc", "pg", "-n", ns]);
    assert.equal(grown.spec.storage.size, "20Gi");
    assert.equal(grown.spec.version, "17.1");
  });
});

Deno.test("an object created as v1beta1 reads the same as v1 and back", async () => {
  await inNamespace("api-convert", async (ns) => {
    const spec: DatabaseClusterSpecInput = {
      replicas: 2,
      version: "15.4",
      image: "postgres:15.4",
      storage: { size: "10Gi", storageClassName: "standard" },
      network: { port: 5433, externalAccess: true },
      security: {
        tls: { secretName: "pg-tls" },
        authentication: { type: "md5", username: "shop", database: "shop" },
      },
      ha: { podAntiAffinity: "required", pdb: true },
      monitoring: { enabled: true, podMonitor: true },
      backup: { enabled: true, schedule: "0 1 * * *", retention: 3, storage: { size: "5Gi" } },
      postgresql: { parameters: { work_mem: "8MB" } },
      resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "1Gi" } },
      deletionPolicy: "Delete",
    };
    const created = await cluster.kubectl(["create", "-n", ns, "-f", "-"], {
      stdin: manifest("pg", spec, "v1beta1"),
    });
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stderr,
      /v1beta1 DatabaseCluster is deprecated; use database\.example\.com\/v1/,
    );
    const asV1 = await getJson([V1, "pg", "-n", ns]);
    const asBeta = await getJson([V1BETA1, "pg", "-n", ns]);
    assert.equal(asV1.apiVersion, `${GROUP}/v1`);
    assert.equal(asBeta.apiVersion, `${GROUP}/v1beta1`);
    assert.deepEqual(asV1.spec, DatabaseClusterSpec.parse(spec));
    assert.deepEqual(asBeta.spec, asV1.spec);

    await cluster.kubectlOk(patchArgs(ns, `${V1}/pg`, { spec: { replicas: 4 } }));
    const back = await getJson([V1BETA1, "pg", "-n", ns]);
    assert.deepEqual(back.spec, { ...asV1.spec, replicas: 4 });

    const newer = await cluster.kubectl(["create", "--dry-run=server", "-n", ns, "-f", "-"], {
      stdin: manifest("pg17", minimal, "v1beta1"),
    });
    assert.notEqual(newer.code, 0, "v1beta1 accepted version 17");
    assert.match(newer.stderr, /spec\.version/);
  });
});

Deno.test("kubectl scale sets spec.replicas through the scale subresource", async () => {
  await inNamespace("api-scale", async (ns) => {
    await cluster.kubectlOk(["create", "-n", ns, "-f", "-"], { stdin: manifest("pg", minimal) });
    await cluster.kubectlOk(["scale", "dbc/pg", "-n", ns, "--replicas=3"]);
    assert.equal((await getJson(["dbc", "pg", "-n", ns])).spec.replicas, 3);
    const tooFew = await cluster.kubectl(["scale", "dbc/pg", "-n", ns, "--replicas=0"]);
    assert.notEqual(tooFew.code, 0);
    assert.match(tooFew.stderr, /spec\.replicas/);

    const status = { replicas: 3, selector: "dbop.example.com/cluster=pg" };
    await cluster.kubectlOk(patchArgs(ns, "dbc/pg", { status }, "status"));
    const scale = await getJson<{ spec: unknown; status: unknown }>([
      "dbc",
      "pg",
      "-n",
      ns,
      "--subresource=scale",
    ]);
    assert.deepEqual(scale.spec, { replicas: 3 });
    assert.deepEqual(scale.status, status);
  });
});

Deno.test("kubectl explain describes dbc.spec.storage", async () => {
  await installCrd();
  // The OpenAPI document kubectl explain reads is published shortly after the CRD is Established.
  const out = await eventually("kubectl explain dbc.spec.storage", async () => {
    const result = await cluster.kubectl(["explain", "dbc.spec.storage"]);
    return result.code === 0 ? result.stdout : undefined;
  }, { timeoutMs: 30_000 });
  assert.match(out, /The data volume of each instance/);
  assert.match(out, /size\s+<string> -required-/);
  assert.match(out, /never\s+shrink/);
  assert.match(out, /storageClassName\s+<string>/);
});

Deno.test("kubectl get dbc shows phase, ready, version, primary and age, and wait sees conditions", async () => {
  await inNamespace("api-columns", async (ns) => {
    await cluster.kubectlOk(["create", "-n", ns, "-f", "-"], {
      stdin: manifest("pg", { ...minimal, replicas: 3 }),
    });
    const status = {
      phase: "Running",
      replicas: 3,
      readyReplicas: 2,
      readyDisplay: "2/3",
      currentPrimary: "pg-1",
      conditions: [{
        type: "Ready",
        status: "True",
        reason: "PrimaryReady",
        message: "The primary accepts connections",
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      }],
    };
    await cluster.kubectlOk(patchArgs(ns, "dbc/pg", { status }, "status"));
    const [header, row] = (await cluster.kubectlOk(["get", "dbc", "-n", ns])).trim().split("\n");
    assert.deepEqual(header.split(/\s+/), ["NAME", "PHASE", "READY", "VERSION", "PRIMARY", "AGE"]);
    assert.deepEqual(row.split(/\s+/).slice(0, 5), ["pg", "Running", "2/3", "17", "pg-1"]);
    assert.match(await cluster.kubectlOk(["get", "databases", "-n", ns]), /^pg\s+Running/m);
    assert.doesNotMatch(
      await cluster.kubectlOk(["get", "all", "-n", ns, "-o", "name"]),
      /databasecluster/,
    );
    await cluster.kubectlOk(["wait", "--for=condition=Ready", "dbc/pg", "-n", ns, "--timeout=10s"]);

    const badPhase = await cluster.kubectl(
      patchArgs(ns, "dbc/pg", { status: { phase: "Sleeping" } }, "status"),
    );
    assert.notEqual(badPhase.code, 0);
    assert.match(badPhase.stderr, /status\.phase/);
  });
});
