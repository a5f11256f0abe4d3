/**
 * The bearer token the status endpoint accepts (`server.ts`): the one Secret
 * `<c>-status` holds now, followed by name (`objects.ts`), so when the
 * operator writes a new token (the Secret was deleted) every instance accepts
 * it without a restart of its pod. The manager derives that name from the
 * cluster's rather than reading it from its environment: following the
 * Secret added nothing to the pod template, whose change rolls every pod.
 * Until that Secret's watch has listed once, the token from the pod's
 * environment stands in (the kubelet resolved it when the container
 * started): the endpoint authenticates the operator from its first moment,
 * and where the Secret cannot be watched (the API server not reachable yet,
 * or an instance Role that does not grant it yet, as while dbop is upgraded)
 * it works as it did before the Secret was followed. Once listed, only the
 * Secret counts: while it is gone no token is accepted, so deleting it
 * revokes the old token at once; the operator writes the new one in the same
 * reconcile.
 *
 * @module
 */
import { STATUS_TOKEN_KEY } from "../api/constants.ts";

/** What the instance knows of the status token Secret. */
export interface StatusTokenSecret {
  /** Whether its watch has listed once. */
  listed: boolean;
  /** Its decoded data; undefined when it does not exist (or before the list). */
  data?: Record<string, string>;
}

/** The token to accept now; undefined when there is none (every caller is refused). */
export function statusToken(
  fromEnvironment: string,
  secret: StatusTokenSecret,
): string | undefined {
  if (!secret.listed) return fromEnvironment;
  return secret.data?.[STATUS_TOKEN_KEY] || undefined;
}
