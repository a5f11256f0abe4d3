import assert from "node:assert/strict";
import {
  BadRequestError,
  ForbiddenError,
  isRefusal,
  isTransientForbidden,
  NotFoundError,
} from "./errors.ts";

const forbidden = (message: string) =>
  new ForbiddenError(403, { reason: "Forbidden", message }, false);

Deno.test("isRefusal() takes admission and quota for the user's to fix, not what the API server is catching up with", () => {
  const quota = forbidden(
    'persistentvolumeclaims "pg-backups" is forbidden: exceeded quota: storage, requested: ' +
      "requests.storage=1Gi, used: requests.storage=2Gi, limited: requests.storage=2Gi",
  );
  const webhook = forbidden('admission webhook "policy.example.com" denied the request: no');
  const verb = forbidden(
    'roles.rbac.authorization.k8s.io "pg-instance" is forbidden: User ' +
      '"system:serviceaccount:dbop-system:dbop" cannot patch resource "roles" in API group ' +
      '"rbac.authorization.k8s.io" in the namespace "shop"',
  );
  const escalation = forbidden(
    'roles.rbac.authorization.k8s.io "pg-instance" is forbidden: user ' +
      '"system:serviceaccount:dbop-system:dbop" (groups=["system:serviceaccounts"]) is ' +
      'attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], ...}',
  );
  // Right after an install: the owner's CRD not yet in the API server's REST mapping.
  const owner = forbidden(
    'secrets "pg-superuser" is forbidden: cannot set blockOwnerDeletion in this case because ' +
      "cannot find RESTMapping for APIVersion database.example.com/v1 Kind DatabaseCluster: " +
      'no matches for kind "DatabaseCluster" in version "database.example.com/v1"',
  );
  assert.deepEqual([quota, webhook].map(isRefusal), [true, true]);
  assert.deepEqual([verb, escalation, owner].map(isTransientForbidden), [true, true, true]);
  assert.deepEqual([verb, escalation, owner].map(isRefusal), [false, false, false]);
  assert.equal(isRefusal(new BadRequestError(400, { message: "bad" }, false)), true);
  assert.equal(isRefusal(new NotFoundError(404, { message: "gone" }, false)), false);
});
