/**
 * Settings whose default depends on other fields, so the CRD cannot state it
 * as a schema `default`. The operator reads them through these functions and
 * nowhere else, and the field descriptions in the schema say the same.
 *
 * @module
 */
import { DEFAULT_USERNAME } from "./constants.ts";
import type { DatabaseClusterSpec } from "./spec.ts";

/** Whether a PodDisruptionBudget is wanted: `ha.pdb`, or by default only when there is more than one instance. */
export function pdbEnabled(spec: DatabaseClusterSpec): boolean {
  return spec.ha.pdb ?? spec.replicas > 1;
}

/**
 * The application owner the operator creates credentials for, or undefined when
 * `existingSecret` supplies them (the username is then read from that Secret).
 */
export function generatedUsername(spec: DatabaseClusterSpec): string | undefined {
  const authentication = spec.security.authentication;
  if (authentication.existingSecret !== undefined) return undefined;
  return authentication.username ?? DEFAULT_USERNAME;
}
