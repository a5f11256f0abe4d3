/**
 * Converts a zod schema into a Kubernetes structural OpenAPI v3 schema, as a
 * CRD version's `openAPIV3Schema` needs it. zod's own `z.toJSONSchema` does
 * the walk (target OpenAPI 3.0, input side, so defaults are not `required`);
 * this module fixes what Kubernetes reads differently (integer formats,
 * int-or-string unions, `additionalProperties: false`) and then checks the
 * result is structural: every node has a `type`, nothing uses `$ref` or a
 * keyword the API server rejects. Metadata such as `description` and
 * `x-kubernetes-validations` comes from `.describe()` / `.meta()`.
 *
 * @module
 */
import { z } from "zod";

/** A node of an OpenAPI v3 schema as Kubernetes' JSONSchemaProps spells it. */
export type OpenApiSchema = { [keyword: string]: unknown };

const INTEGER_FORMATS: Record<string, { format: string; min: number; max: number }> = {
  int32: { format: "int32", min: -2147483648, max: 2147483647 },
  safeint: { format: "int64", min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
};

// Keyword order in the output, so the generated YAML reads top-down and diffs stay small.
const KEYWORD_ORDER = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "anyOf",
  "required",
  "properties",
  "additionalProperties",
  "items",
];

const EXTENSION_PREFIX = "x-kubernetes-";

/** Converts `schema` to a structural schema; throws when the result could not be served by a CRD. */
export function toStructuralSchema(schema: z.ZodType): OpenApiSchema {
  const json = z.toJSONSchema(schema, {
    target: "openapi-3.0",
    io: "input",
    unrepresentable: "throw",
    reused: "inline",
    cycles: "throw",
    override: ({ zodSchema, jsonSchema }) => adjustForKubernetes(zodSchema, jsonSchema),
  });
  return structural(json as OpenApiSchema, "");
}

function adjustForKubernetes(zodSchema: z.core.$ZodType, json: OpenApiSchema): void {
  const def = zodSchema._zod.def as { type: string; format?: string };
  const integer = def.type === "number" ? INTEGER_FORMATS[def.format ?? ""] : undefined;
  if (integer) {
    json.format = integer.format;
    if (json.minimum === integer.min) delete json.minimum;
    if (json.maximum === integer.max) delete json.maximum;
  }
  if (json.format === "date-time") delete json.pattern; // the API server checks the format itself
  if (def.type === "union") toIntOrString(json);
}

function toIntOrString(json: OpenApiSchema): void {
  const branches = json.anyOf as OpenApiSchema[] | undefined;
  const integer = branches?.find((branch) => branch.type === "integer");
  const string = branches?.find((branch) => branch.type === "string");
  if (branches?.length !== 2 || !integer || !string) return; // structural() rejects other unions
  json.anyOf = [{ type: "integer" }, { type: "string" }];
  json["x-kubernetes-int-or-string"] = true;
  const safe = INTEGER_FORMATS.safeint;
  if (integer.minimum !== undefined && integer.minimum !== safe.min) json.minimum = integer.minimum;
  if (integer.maximum !== undefined && integer.maximum !== safe.max) json.maximum = integer.maximum;
  for (const key of ["pattern", "minLength", "maxLength"]) {
    if (string[key] !== undefined) json[key] = string[key];
  }
}

function structural(node: OpenApiSchema, path: string): OpenApiSchema {
  const where = path === "" ? "<root>" : path;
  const out: OpenApiSchema = {};
  for (const key of Object.keys(node)) {
    if (!KEYWORD_ORDER.includes(key) && !key.startsWith(EXTENSION_PREFIX)) {
      throw new Error(`Cannot use keyword in a structural schema: "${key}" at "${where}"`);
    }
  }
  const intOrString = node["x-kubernetes-int-or-string"] === true;
  if (node.type === undefined && !intOrString) {
    throw new Error(`Cannot leave a structural schema node without a type: at "${where}"`);
  }
  if (node.anyOf !== undefined && !intOrString) {
    throw new Error(`Cannot use "anyOf" outside int-or-string: at "${where}"`);
  }
  for (const key of KEYWORD_ORDER) {
    if (node[key] === undefined) continue;
    out[key] = convertKeyword(key, node[key], path);
  }
  if (out.additionalProperties === false) delete out.additionalProperties; // unknown fields are pruned or rejected anyway
  for (const key of Object.keys(node).filter((k) => k.startsWith(EXTENSION_PREFIX)).sort()) {
    out[key] = node[key];
  }
  return out;
}

function convertKeyword(key: string, value: unknown, path: string): unknown {
  switch (key) {
    case "properties": {
      const props = value as Record<string, OpenApiSchema>;
      return Object.fromEntries(
        Object.entries(props).map(([name, child]) => [name, structural(child, `${path}.${name}`)]),
      );
    }
    case "items":
      return structural(value as OpenApiSchema, `${path}[*]`);
    case "additionalProperties":
      if (value === false) return value;
      if (value === true || Object.keys(value as object).length === 0) {
        throw new Error(`Cannot accept arbitrary additional properties: at "${path}"`);
      }
      return structural(value as OpenApiSchema, `${path}.*`);
    default:
      return value;
  }
}
