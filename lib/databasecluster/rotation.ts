/**
 * Regenerated passwords reach PostgreSQL before their Secret exists. When a
 * generated credential Secret (superuser, replication, application owner) of
 * a bootstrapped cluster is gone, the reconcile generates a new password;
 * before it creates the Secret, it hands that password to the primary's
 * instance manager (`POST /passwords` with the status token), which applies
 * it with `ALTER ROLE` and answers once it has. An application that re-reads
 * the Secret therefore never finds a password PostgreSQL refuses.
 *
 * A primary that does not run (no pod, no answer, or its manager says it is
 * not a running primary) gets the Secret as before: its manager applies every
 * password from the Secrets when PostgreSQL next starts. A primary that
 * answers and fails to apply fails the reconcile, so the Secret is not
 * written and the next attempt generates and hands over again.
 *
 * @module
 */
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { getLogger } from "@logtape/logtape";
import type { DatabaseCluster } from "../api/mod.ts";
import type { EventRecorder } from "../runtime/mod.ts";
import type { KubeObject } from "../runtime/types.ts";
import { type Children, secretByName } from "./cache.ts";
import { type PollOptions, requestInstance } from "./instances.ts";
import {
  appSecretName,
  LABELS,
  replicationSecretName,
  ROLES,
  superuserSecretName,
} from "./names.ts";
import { passwordFromSecret } from "./passwords.ts";

const logger = getLogger(["dbop", "databasecluster", "rotation"]);

/** A password the primary must take before Secret `secret` is written. */
export interface Rotation {
  secret: string;
  password: string;
}

/**
 * The rotations a reconcile brings: each generated credential Secret among `desired` whose
 * live copy has no password. `appSecret` is `<c>-app`, or undefined with `existingSecret`
 * (whose password the user owns).
 */
export function pendingRotations(
  cluster: string,
  children: Children,
  desired: readonly KubeObject[],
  appSecret: string | undefined,
): Rotation[] {
  const names = [superuserSecretName(cluster), replicationSecretName(cluster), appSecret]
    .filter((name): name is string => name !== undefined);
  return names.flatMap((name) => {
    if (passwordFromSecret(secretByName(children, name)) !== undefined) return [];
    const wanted = desired.find((o) => o.kind === "Secret" && o.metadata?.name === name);
    const password = passwordFromSecret(wanted as V1Secret | undefined);
    return password === undefined ? [] : [{ secret: name, password }];
  });
}

/** The primary answered and did not apply a password: the Secret must not be written yet. */
export class RotationError extends Error {
  override name = "RotationError";
}

/**
 * Hands `rotations` to the primary's manager; returns whether it applied them (false when
 * there is no running primary to take them, see the module doc).
 */
export async function handOverPasswords(
  pods: readonly V1Pod[],
  rotations: readonly Rotation[],
  options: PollOptions,
): Promise<boolean> {
  const primary = pods.find((pod) =>
    pod.metadata?.labels?.[LABELS.role] === ROLES.primary && !pod.metadata?.deletionTimestamp
  );
  const ip = primary?.status?.podIP;
  if (!ip) return false;
  for (const rotation of rotations) {
    let response: Response;
    try {
      response = await requestInstance(ip, "/passwords", {
        ...options,
        method: "POST",
        body: rotation,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return false;
    }
    const text = (await response.text()).trim();
    // 409: the manager does not run a primary now; it applies the Secret when it does.
    if (response.status === 409) return false;
    if (!response.ok) {
      throw new RotationError(
        `Primary "${primary!.metadata!.name}" did not take the new password of Secret ` +
          `"${rotation.secret}" (${response.status}: ${text}); the Secret is not written yet`,
      );
    }
  }
  return true;
}

/**
 * Hands the passwords this reconcile regenerates for a bootstrapped cluster to its primary
 * before `desired` is applied; a refusal is a Warning event and fails the reconcile.
 */
export async function rotatePasswords(
  events: EventRecorder,
  object: KubeObject,
  cluster: DatabaseCluster,
  children: Children,
  desired: readonly KubeObject[],
  options: PollOptions,
): Promise<void> {
  const name = cluster.metadata.name;
  const appSecret = cluster.spec.security.authentication.existingSecret === undefined
    ? appSecretName(name)
    : undefined;
  const rotations = pendingRotations(name, children, desired, appSecret);
  if (rotations.length === 0) return;
  let applied: boolean;
  try {
    applied = await handOverPasswords(children.pods, rotations, options);
  } catch (error) {
    if (error instanceof RotationError) {
      events.record(object, {
        type: "Warning",
        reason: "PasswordNotApplied",
        action: "Rotate",
        note: error.message,
      });
    }
    throw error;
  }
  logger.info("New passwords of {secrets} {how}", {
    secrets: rotations.map((r) => r.secret).join(", "),
    how: applied ? "applied by the primary" : "left to the primary's next start",
  });
}
