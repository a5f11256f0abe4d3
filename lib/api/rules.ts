/**
 * Validation rules that live next to the field they guard. A rule is written
 * once, as CEL for the API server (`x-kubernetes-validations`, carried to the
 * CRD through zod metadata) and, where it can be judged without the previous
 * object, as a zod check with the same message, so the operator and the API
 * server agree on what is valid. Transition rules compare with `oldSelf`; only
 * the API server can judge them.
 *
 * @module
 */
import { z } from "zod";

/** `reason` of a CEL rule: the kind of field error the API server reports. */
export type CelReason =
  | "FieldValueInvalid"
  | "FieldValueForbidden"
  | "FieldValueRequired"
  | "FieldValueDuplicate";

/** A CEL rule as it appears in `x-kubernetes-validations`. */
export interface CelValidation {
  /** CEL expression; `self` is the guarded value. */
  rule: string;
  /** Message reported when the rule fails. */
  message: string;
  /** CEL expression building a more precise message; `message` is the fallback. */
  messageExpression?: string;
  /** Path, relative to the guarded value, of the field the error is reported on. */
  fieldPath?: string;
  /** Kind of field error reported. */
  reason?: CelReason;
}

/** A rule judged on the new value alone, enforced both in CEL and in zod. */
export interface ValueRule<T> extends CelValidation {
  /** The same rule in TypeScript; returns true when the value is valid. */
  check: (value: T) => boolean;
}

/** Metadata key under which CEL rules travel from zod to the CRD. */
export const VALIDATIONS_KEY = "x-kubernetes-validations";

/** CEL rules already attached to a schema (including those inherited from the schema it was derived from). */
export function celValidationsOf(schema: z.ZodType): CelValidation[] {
  const meta = z.globalRegistry.get(schema) ?? {};
  return (meta[VALIDATIONS_KEY] as CelValidation[] | undefined) ?? [];
}

function attach<S extends z.ZodType>(schema: S, validation: CelValidation): S {
  return schema.meta({ [VALIDATIONS_KEY]: [...celValidationsOf(schema), validation] });
}

function zodPath(fieldPath: string | undefined): string[] | undefined {
  return fieldPath?.split(".").filter((part) => part !== "");
}

/** Attaches a rule to `schema`: a CEL validation for the CRD and the matching zod check. */
export function withRule<S extends z.ZodType>(schema: S, rule: ValueRule<z.output<S>>): S {
  const { check, ...validation } = rule;
  if (validation.rule.includes("oldSelf")) {
    throw new Error(`Cannot attach a transition rule as a value rule: "${validation.rule}"`);
  }
  return attach(schema, validation).refine(check, {
    message: validation.message,
    path: zodPath(validation.fieldPath),
  }) as S;
}

/** Attaches a transition rule (it compares `self` with `oldSelf`), which only the API server enforces. */
export function withTransitionRule<S extends z.ZodType>(schema: S, rule: CelValidation): S {
  if (!rule.rule.includes("oldSelf")) {
    throw new Error(`Cannot attach a rule without "oldSelf" as a transition rule: "${rule.rule}"`);
  }
  return attach(schema, rule);
}

/** Renders plain words as a CEL list literal: `['a', 'b']`. */
export function celList(values: readonly string[]): string {
  for (const value of values) {
    if (!/^[A-Za-z0-9_.-]+$/.test(value)) {
      throw new Error(`Cannot quote a value in a CEL list: "${value}"`);
    }
  }
  return `[${values.map((value) => `'${value}'`).join(", ")}]`;
}
