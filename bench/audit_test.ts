import assert from "node:assert/strict";
import { AuditLog, countBy, isWrite, parseAuditEvents } from "./audit.ts";

const USER = "system:serviceaccount:dbop-system:dbop";

function event(id: string, stage: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    kind: "Event",
    level: "Metadata",
    auditID: id,
    stage,
    requestURI: "/apis/apps/v1/namespaces/b/statefulsets/pg-0?fieldManager=dbop",
    verb: "patch",
    user: { username: USER },
    objectRef: { resource: "statefulsets", namespace: "b", name: "pg-0", apiGroup: "apps" },
    requestReceivedTimestamp: "2026-01-01T00:00:01.250000Z",
    ...extra,
  });
}

Deno.test("parseAuditEvents() reads verb, user, resource with subresource, code and arrival", () => {
  const [request] = parseAuditEvents(
    event("a", "ResponseComplete", {
      objectRef: { resource: "databaseclusters", subresource: "status" },
      responseStatus: { code: 200 },
    }) + "\nnot json\n",
  );
  assert.deepEqual(request, {
    id: "a",
    at: Date.parse("2026-01-01T00:00:01.250Z"),
    user: USER,
    verb: "patch",
    resource: "databaseclusters/status",
    code: 200,
  });
});

Deno.test("isWrite() counts mutating verbs but not access reviews", () => {
  const [patch, review, list] = parseAuditEvents([
    event("a", "ResponseComplete"),
    event("b", "ResponseComplete", {
      verb: "create",
      objectRef: { resource: "selfsubjectaccessreviews" },
    }),
    event("c", "ResponseComplete", { verb: "list" }),
  ].join("\n"));
  assert.equal(isWrite(patch), true);
  assert.equal(isWrite(review), false);
  assert.equal(isWrite(list), false);
});

Deno.test("AuditLog counts a request once across stages and waits for a line's newline", () => {
  const log = new AuditLog("unused");
  log.append(event("w", "ResponseStarted", { verb: "watch" }) + "\n");
  assert.equal(log.select().length, 1);
  log.append(
    event("w", "ResponseComplete", { verb: "watch", responseStatus: { code: 200 } }) + "\n" +
      event("p", "ResponseComplete"),
  );
  assert.equal(log.select().length, 1, "a partial last line waits for its newline");
  log.append("\n");
  const requests = log.select({ user: USER });
  assert.deepEqual(countBy(requests, (r) => r.verb), { watch: 1, patch: 1 });
  assert.equal(requests.find((r) => r.id === "w")?.code, 200);
  assert.equal(log.select({ from: Date.parse("2026-01-01T00:00:02Z") }).length, 0);
  assert.equal(log.select({ user: "someone-else" }).length, 0);
});
