import assert from "node:assert/strict";
import { buildCrd, CRD_PATH, renderCrdYaml } from "./crd.ts";

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-validations"?: { rule: string; fieldPath?: string }[];
  [key: string]: unknown;
};

interface Version {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema: { openAPIV3Schema: Schema };
  subresources: { scale: Record<string, string>; status: Record<string, never> };
  additionalPrinterColumns: { name: string; jsonPath: string }[];
}

interface Crd {
  metadata: { name: string };
  spec: {
    names: { shortNames: string[]; categories: string[]; kind: string; plural: string };
    scope: string;
    conversion: { strategy: string };
    versions: Version[];
  };
}

const crd = buildCrd() as unknown as Crd;
const [v1, v1beta1] = crd.spec.versions;

/** Follows a `.a.b` path through a schema's properties. */
function at(schema: Schema, path: string): Schema | undefined {
  let node: Schema | undefined = schema;
  for (const part of path.split(".").filter((p) => p !== "")) node = node?.properties?.[part];
  return node;
}

function walk(schema: Schema, path: string, visit: (node: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    walk(child, `${path}.${name}`, visit);
  }
  if (typeof schema.additionalProperties === "object") {
    walk(schema.additionalProperties, `${path}.*`, visit);
  }
  if (schema.items) walk(schema.items, `${path}[*]`, visit);
}

Deno.test("the committed CRD is what deno task crds generates", async () => {
  const committed = await Deno.readTextFile(new URL(`../../${CRD_PATH}`, import.meta.url));
  assert.ok(
    committed === renderCrdYaml(),
    `${CRD_PATH} is out of date: run "deno task crds" and commit the result`,
  );
});

Deno.test("renderCrdYaml() output is the same on every run", () => {
  assert.equal(renderCrdYaml(), renderCrdYaml());
});

Deno.test("buildCrd() names the resource for kubectl: dbc, in databases but not all", () => {
  assert.equal(crd.metadata.name, "databaseclusters.database.example.com");
  assert.equal(crd.spec.scope, "Namespaced");
  assert.deepEqual(crd.spec.names.shortNames, ["dbc"]);
  assert.ok(crd.spec.names.categories.includes("databases"));
  assert.ok(!crd.spec.names.categories.includes("all"));
});

Deno.test("buildCrd() stores v1 and serves v1beta1 as deprecated", () => {
  assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage]), [
    ["v1", true, true],
    ["v1beta1", true, false],
  ]);
  assert.equal(v1.deprecated, undefined);
  assert.equal(v1beta1.deprecated, true);
  assert.match(
    v1beta1.deprecationWarning ?? "",
    /v1beta1 DatabaseCluster is deprecated; use database\.example\.com\/v1$/,
  );
});

Deno.test("buildCrd() versions differ only in which versions spec.version accepts", () => {
  assert.equal(crd.spec.conversion.strategy, "None");
  const strip = (v: Version) => {
    const copy = structuredClone(v.schema.openAPIV3Schema);
    const version = at(copy, ".spec.version")!;
    delete version.pattern;
    delete version.description;
    return copy;
  };
  assert.deepEqual(strip(v1), strip(v1beta1));
  assert.notEqual(
    at(v1.schema.openAPIV3Schema, ".spec.version")?.pattern,
    at(v1beta1.schema.openAPIV3Schema, ".spec.version")?.pattern,
  );
  assert.deepEqual(v1.subresources, v1beta1.subresources);
  assert.deepEqual(v1.additionalPrinterColumns, v1beta1.additionalPrinterColumns);
});

Deno.test("buildCrd() schemas are structural: a type on every node, no $ref", () => {
  for (const version of crd.spec.versions) {
    walk(version.schema.openAPIV3Schema, "", (node, path) => {
      assert.ok(
        node.type !== undefined || node["x-kubernetes-int-or-string"] === true,
        `no type at ${version.name}${path}`,
      );
      assert.equal(node.$ref, undefined, `$ref at ${version.name}${path}`);
      if (node.properties) assert.equal(node.additionalProperties, undefined, path);
    });
  }
});

Deno.test("buildCrd() points every CEL fieldPath at a declared field", () => {
  let rules = 0;
  walk(v1.schema.openAPIV3Schema, "", (node, path) => {
    for (const validation of node["x-kubernetes-validations"] ?? []) {
      rules++;
      if (validation.fieldPath === undefined) continue;
      assert.ok(at(node, validation.fieldPath), `no field ${validation.fieldPath} under ${path}`);
    }
  });
  assert.ok(rules >= 10, `expected the spec's CEL rules, found ${rules}`);
});

Deno.test("buildCrd() scale subresource and printer columns point at declared fields", () => {
  const root = v1.schema.openAPIV3Schema;
  assert.deepEqual(v1.subresources.status, {});
  assert.deepEqual(v1.subresources.scale, {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  });
  assert.equal(at(root, ".spec.replicas")?.type, "integer");
  assert.equal(at(root, ".status.replicas")?.type, "integer");
  assert.equal(at(root, ".status.selector")?.type, "string");
  assert.deepEqual(v1.additionalPrinterColumns.map((c) => c.name), [
    "Phase",
    "Ready",
    "Version",
    "Primary",
    "Age",
  ]);
  for (const column of v1.additionalPrinterColumns) {
    if (column.jsonPath.startsWith(".metadata.")) continue;
    assert.ok(at(root, column.jsonPath), `no field ${column.jsonPath}`);
  }
});
