import assert from "node:assert/strict";
import { z } from "zod";
import { toStructuralSchema } from "./openapi.ts";

Deno.test("toStructuralSchema() gives integers a Kubernetes format and drops the implied bounds", () => {
  const schema = z.strictObject({
    small: z.int32(),
    bounded: z.int32().min(1).max(100),
    big: z.int(),
  });
  assert.deepEqual(toStructuralSchema(schema).properties, {
    small: { type: "integer", format: "int32" },
    bounded: { type: "integer", format: "int32", minimum: 1, maximum: 100 },
    big: { type: "integer", format: "int64" },
  });
});

Deno.test("toStructuralSchema() omits additionalProperties: false beside properties", () => {
  const out = toStructuralSchema(z.strictObject({ a: z.string() }));
  assert.deepEqual(out, {
    type: "object",
    required: ["a"],
    properties: { a: { type: "string" } },
  });
});

Deno.test("toStructuralSchema() leaves fields with defaults out of required and keeps the defaults", () => {
  const inner = z.strictObject({ port: z.int32().default(5432) });
  const schema = z.strictObject({
    name: z.string(),
    optional: z.string().optional(),
    network: inner.default(() => inner.parse({})),
  });
  const out = toStructuralSchema(schema);
  assert.deepEqual(out.required, ["name"]);
  assert.deepEqual(out.properties, {
    name: { type: "string" },
    optional: { type: "string" },
    network: {
      type: "object",
      default: { port: 5432 },
      properties: { port: { type: "integer", format: "int32", default: 5432 } },
    },
  });
});

Deno.test("toStructuralSchema() carries descriptions, patterns, enums and x-kubernetes metadata", () => {
  const rule = { rule: "self.size() > 0", message: "Cannot be empty" };
  const schema = z.strictObject({
    size: z.string().max(8).regex(/^[0-9]+Gi$/).describe("Size.").meta({
      "x-kubernetes-validations": [rule],
    }),
    mode: z.enum(["a", "b"]).default("a").describe("Mode."),
    list: z.array(z.strictObject({ type: z.string() })).max(4)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
  });
  const { properties } = toStructuralSchema(schema) as {
    properties: Record<string, Record<string, unknown>>;
  };
  assert.deepEqual(properties.size, {
    description: "Size.",
    type: "string",
    maxLength: 8,
    pattern: "^[0-9]+Gi$",
    "x-kubernetes-validations": [rule],
  });
  assert.deepEqual(properties.mode, {
    description: "Mode.",
    type: "string",
    enum: ["a", "b"],
    default: "a",
  });
  assert.equal(properties.list["x-kubernetes-list-type"], "map");
  assert.deepEqual(properties.list["x-kubernetes-list-map-keys"], ["type"]);
  assert.equal(properties.list.maxItems, 4);
});

Deno.test("toStructuralSchema() writes keywords in a fixed order whatever order zod uses", () => {
  const out = toStructuralSchema(z.string().max(3).min(1).describe("d").default("ab"));
  assert.deepEqual(Object.keys(out), ["description", "type", "default", "minLength", "maxLength"]);
});

Deno.test("toStructuralSchema() turns an integer-or-string union into x-kubernetes-int-or-string", () => {
  const quantity = z.union([z.int().min(0), z.string().regex(/^[0-9]+m$/)]);
  assert.deepEqual(toStructuralSchema(quantity), {
    minimum: 0,
    pattern: "^[0-9]+m$",
    anyOf: [{ type: "integer" }, { type: "string" }],
    "x-kubernetes-int-or-string": true,
  });
});

Deno.test("toStructuralSchema() keeps date-time as a format without zod's pattern", () => {
  assert.deepEqual(toStructuralSchema(z.iso.datetime()), { type: "string", format: "date-time" });
});

Deno.test("toStructuralSchema() converts maps to additionalProperties", () => {
  const out = toStructuralSchema(z.record(z.string(), z.string().max(5)));
  assert.deepEqual(out, { type: "object", additionalProperties: { type: "string", maxLength: 5 } });
});

Deno.test("toStructuralSchema() inlines a schema used twice instead of emitting $ref", () => {
  const shared = z.string().describe("shared");
  const out = toStructuralSchema(z.strictObject({ a: shared, b: shared.optional() }));
  assert.deepEqual(out.properties, {
    a: { description: "shared", type: "string" },
    b: { description: "shared", type: "string" },
  });
});

Deno.test("toStructuralSchema() rejects unions other than integer-or-string", () => {
  assert.throws(
    () => toStructuralSchema(z.strictObject({ u: z.union([z.string(), z.boolean()]) })),
    /Cannot leave a structural schema node without a type: at "\.u"/,
  );
});

Deno.test("toStructuralSchema() rejects objects that accept arbitrary fields", () => {
  assert.throws(
    () => toStructuralSchema(z.strictObject({ o: z.looseObject({ a: z.string() }) })),
    /Cannot accept arbitrary additional properties: at ".o"/,
  );
});

Deno.test("toStructuralSchema() rejects keywords Kubernetes does not serve", () => {
  assert.throws(
    () => toStructuralSchema(z.strictObject({ n: z.string().nullable() })),
    /Cannot use keyword in a structural schema: "nullable" at "\.n"/,
  );
  assert.throws(
    () => toStructuralSchema(z.string().meta({ title: "T" })),
    /Cannot use keyword in a structural schema: "title" at "<root>"/,
  );
});
