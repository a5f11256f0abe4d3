import assert from "node:assert/strict";
import {
  CRON_SCHEDULE,
  DNS_SUBDOMAIN,
  HTTP_PATH,
  majorOf,
  PG_PARAMETER_NAME,
  QUANTITY,
  versionPattern,
  VOLUME_SIZE,
} from "./patterns.ts";

function accepts(pattern: RegExp, values: string[]): void {
  for (const value of values) assert.ok(pattern.test(value), `expected a match: "${value}"`);
}

function rejects(pattern: RegExp, values: string[]): void {
  for (const value of values) assert.ok(!pattern.test(value), `expected no match: "${value}"`);
}

Deno.test("versionPattern() accepts a listed major with an optional minor", () => {
  const pattern = versionPattern([13, 16]);
  accepts(pattern, ["13", "16", "16.0", "16.4", "13.21"]);
  rejects(pattern, ["12", "14", "160", "16.", "16.04", "16.4.1", "v16", " 16", "16.100"]);
  assert.throws(() => versionPattern([]), /Cannot build a version pattern: no majors given/);
});

Deno.test("majorOf() reads the major of a version", () => {
  assert.equal(majorOf("16"), 16);
  assert.equal(majorOf("13.5"), 13);
});

Deno.test("VOLUME_SIZE accepts whole binary sizes as in the design notes", () => {
  accepts(VOLUME_SIZE, ["1Gi", "100Gi", "512Mi", "2Ti", "10Ki"]);
  rejects(VOLUME_SIZE, ["0Gi", "10G", "1.5Gi", "Gi", "10", "-1Gi", "01Gi", "10gi"]);
});

Deno.test("QUANTITY accepts non-negative Kubernetes quantities", () => {
  accepts(QUANTITY, ["1", "500m", "1.5", "2Gi", "128974848", "129e6", "123Mi", ".5"]);
  rejects(QUANTITY, ["-1", "1Gx", "one", "", "1 Gi"]);
});

Deno.test("CRON_SCHEDULE accepts five standard cron fields", () => {
  accepts(CRON_SCHEDULE, [
    "0 2 * * *",
    "*/15 * * * *",
    "0 0-6/2 1,15 * MON-FRI",
    "30 23 31 DEC SUN",
    "59 23 31 12 7",
  ]);
  rejects(CRON_SCHEDULE, [
    "",
    "* * * *",
    "* * * * * *",
    "60 * * * *",
    "0 24 * * *",
    "0 0 0 * *",
    "0 0 32 * *",
    "0 0 * 13 *",
    "0 0 * * 8",
    "@daily",
    "0  2 * * *",
    "*/0 * * * *",
    "0 2 * * mon",
  ]);
});

Deno.test("DNS_SUBDOMAIN, PG_PARAMETER_NAME and HTTP_PATH match the names they describe", () => {
  accepts(DNS_SUBDOMAIN, ["fast-ssd", "a", "my.secret-1"]);
  rejects(DNS_SUBDOMAIN, ["Fast", "-a", "a-", "a_b", ""]);
  accepts(PG_PARAMETER_NAME, ["shared_buffers", "pg_stat_statements.max", "_x"]);
  rejects(PG_PARAMETER_NAME, ["Shared_buffers", "a.b.c", "1x", "a-b", ""]);
  accepts(HTTP_PATH, ["/metrics", "/", "/a/b-c.d"]);
  rejects(HTTP_PATH, ["metrics", "/a b", "/a?b"]);
});
