import assert from "node:assert/strict";
import { KubeConfig, type User } from "@kubernetes/client-node";
import { KUBECONFIG_REUSE_MS, KubeConfigCredentials } from "./kubeconfig.ts";

function kubeConfigOf(user: User, skipTLSVerify = false): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443/", skipTLSVerify }],
    users: [user],
    contexts: [{ name: "c", cluster: "c", user: user.name }],
    currentContext: "c",
  });
  return kubeConfig;
}

Deno.test("KubeConfigCredentials reuses client-node's answer for 30 s, and asks again after invalidate()", async () => {
  const user = { name: "u", token: "one" };
  let now = 0;
  const credentials = new KubeConfigCredentials(kubeConfigOf(user), { now: () => now });
  const bearer = async () => (await credentials.authenticate()).headers.Authorization;
  assert.equal(credentials.server, "https://127.0.0.1:6443");
  assert.equal(await bearer(), "Bearer one");
  user.token = "two";
  now += KUBECONFIG_REUSE_MS - 1;
  assert.equal(await bearer(), "Bearer one");
  now += 1;
  assert.equal(await bearer(), "Bearer two");
  user.token = "three";
  credentials.invalidate();
  assert.equal(await bearer(), "Bearer three");
});

Deno.test("KubeConfigCredentials refuses insecure-skip-tls-verify", async () => {
  const credentials = new KubeConfigCredentials(kubeConfigOf({ name: "u", token: "t" }, true));
  await assert.rejects(credentials.authenticate(), /insecure-skip-tls-verify is not supported/);
});
