/**
 * Regular expressions shared by the zod schema and, through it, the CRD. They
 * are written in the subset that JavaScript and Go's RE2 (used by the API
 * server for OpenAPI `pattern`) read the same way: no look-around, no
 * back-references, `[0-9]` rather than `\d`.
 *
 * @module
 */

/** `spec.version`: a supported major, optionally with a minor, such as `16` or `16.4`. */
export function versionPattern(majors: readonly number[]): RegExp {
  if (majors.length === 0) throw new Error("Cannot build a version pattern: no majors given");
  return new RegExp(`^(${majors.join("|")})(\\.(0|[1-9][0-9]?))?$`);
}

/** Leading major of a version string already checked by {@link versionPattern}. */
export function majorOf(version: string): number {
  return Number.parseInt(version.split(".")[0], 10);
}

/** A volume size: a positive whole number of binary units, as in the design notes (plus `Ti`). */
export const VOLUME_SIZE = /^[1-9][0-9]*(Ki|Mi|Gi|Ti)$/;

/** A non-negative Kubernetes quantity written as a string (`500m`, `1.5Gi`, `2`). */
export const QUANTITY =
  /^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

/** A DNS subdomain (RFC 1123), the form of Secret and StorageClass names. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** An unquoted lower-case PostgreSQL identifier, for role and database names. */
export const PG_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** A postgresql.conf parameter name: lower case, optionally qualified by an extension (`pg_stat_statements.max`). */
export const PG_PARAMETER_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/** An HTTP path for the metrics endpoint. */
export const HTTP_PATH = /^\/[A-Za-z0-9_.~\/-]*$/;

const MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC";
const WEEKDAYS = "SUN|MON|TUE|WED|THU|FRI|SAT";

/** One cron field: `*` or a value or range, an optional `/step`, and comma-separated lists of those. */
function cronField(value: string): string {
  const item = `(\\*|(${value})(-(${value}))?)(/[1-9][0-9]?)?`;
  return `${item}(,${item})*`;
}

/**
 * A standard five-field cron schedule (minute, hour, day of month, month, day of
 * week) with ranges, steps, lists and three-letter month and weekday names.
 * Range order (`5-1`) is left to the CronJob that runs the backups.
 */
export const CRON_SCHEDULE = new RegExp(
  "^" +
    [
      cronField("[0-5]?[0-9]"),
      cronField("[01]?[0-9]|2[0-3]"),
      cronField("0?[1-9]|[12][0-9]|3[01]"),
      cronField(`0?[1-9]|1[0-2]|${MONTHS}`),
      cronField(`[0-7]|${WEEKDAYS}`),
    ].join(" ") +
    "$",
);

/** Condition `type` as in metav1.Condition. */
export const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;

/** Condition `reason` as in metav1.Condition. */
export const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** A label or annotation key: an optional DNS subdomain prefix and `/`, then a name of 1-63 characters. */
export const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** A label value: empty, or 1-63 letters, digits, `-`, `_` and `.` that start and end alphanumeric. */
export const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
