import assert from "node:assert/strict";
import { z } from "zod";
import { toStructuralSchema } from "./openapi.ts";
import { celList, celValidationsOf, withRule, withTransitionRule } from "./rules.ts";

const backup = z.strictObject({ enabled: z.boolean(), schedule: z.string().optional() });
const scheduleRule = {
  rule: "!self.enabled || has(self.schedule)",
  message: "Cannot enable backup without a schedule",
  fieldPath: ".schedule",
  reason: "FieldValueRequired" as const,
  check: (value: z.output<typeof backup>) => !value.enabled || value.schedule !== undefined,
};

Deno.test("withRule() puts the CEL rule in the CRD schema without the TypeScript check", () => {
  const out = toStructuralSchema(withRule(backup, scheduleRule));
  assert.deepEqual(out["x-kubernetes-validations"], [{
    rule: "!self.enabled || has(self.schedule)",
    message: "Cannot enable backup without a schedule",
    fieldPath: ".schedule",
    reason: "FieldValueRequired",
  }]);
});

Deno.test("withRule() makes zod reject the value on the rule's field path with its message", () => {
  const schema = withRule(backup, scheduleRule);
  const result = schema.safeParse({ enabled: true });
  assert.equal(result.success, false);
  assert.deepEqual(
    result.error?.issues.map((i) => ({ path: i.path, message: i.message })),
    [{ path: ["schedule"], message: "Cannot enable backup without a schedule" }],
  );
  assert.equal(schema.safeParse({ enabled: true, schedule: "0 2 * * *" }).success, true);
  assert.equal(schema.safeParse({ enabled: false }).success, true);
});

Deno.test("withRule() keeps earlier rules and metadata", () => {
  const described = backup.describe("Backups.");
  const once = withRule(described, scheduleRule);
  const twice = withRule(once, {
    rule: "self.enabled || !has(self.schedule)",
    message: "Cannot set a schedule when disabled",
    check: (value) => value.enabled || value.schedule === undefined,
  });
  assert.deepEqual(celValidationsOf(twice).map((v) => v.message), [
    "Cannot enable backup without a schedule",
    "Cannot set a schedule when disabled",
  ]);
  assert.equal(toStructuralSchema(twice).description, "Backups.");
  assert.equal(twice.safeParse({ enabled: false, schedule: "x" }).success, false);
  assert.equal(twice.safeParse({ enabled: true }).success, false);
});

Deno.test("withTransitionRule() adds CEL only: zod cannot see the old object", () => {
  const size = withTransitionRule(z.string(), {
    rule: "quantity(self).compareTo(quantity(oldSelf)) >= 0",
    message: "Cannot shrink storage",
  });
  assert.equal(size.safeParse("1Gi").success, true);
  assert.deepEqual(toStructuralSchema(size), {
    type: "string",
    "x-kubernetes-validations": [{
      rule: "quantity(self).compareTo(quantity(oldSelf)) >= 0",
      message: "Cannot shrink storage",
    }],
  });
});

Deno.test("withRule() refuses a transition rule and withTransitionRule() a value rule", () => {
  assert.throws(
    () => withRule(z.string(), { rule: "self == oldSelf", message: "m", check: () => true }),
    /Cannot attach a transition rule as a value rule: "self == oldSelf"/,
  );
  assert.throws(
    () => withTransitionRule(z.string(), { rule: "self != ''", message: "m" }),
    /Cannot attach a rule without "oldSelf" as a transition rule: "self != ''"/,
  );
});

Deno.test("celList() quotes plain words and refuses anything that could break out of the literal", () => {
  assert.equal(
    celList(["port", "ssl_ca_file", "pg_stat.max"]),
    "['port', 'ssl_ca_file', 'pg_stat.max']",
  );
  assert.equal(celList([]), "[]");
  assert.throws(() => celList(["a' || true || '"]), /Cannot quote a value in a CEL list/);
});
