import assert from "node:assert/strict";
import { envName, parseCommandLine } from "./args.ts";
import { UsageError } from "./errors.ts";

const noEnv = () => undefined;

Deno.test("parseCommandLine() defaults to run with controller-runtime's defaults", () => {
  const parsed = parseCommandLine([], noEnv);
  assert.equal(parsed.command, "run");
  if (parsed.command !== "run") return;
  assert.deepEqual(parsed.options.namespaces, []);
  assert.equal(parsed.options.metricsBindAddress, ":8080");
  assert.equal(parsed.options.healthProbeBindAddress, ":8081");
  assert.equal(parsed.options.leaderElect, false);
  assert.equal(parsed.options.leaderElectionId, "dbop-leader");
  assert.equal(parsed.options.logFormat, "auto");
  assert.equal(parsed.options.resyncPeriodMs, 600_000);
});

Deno.test("parseCommandLine() reads --resync-period in seconds, minutes or hours", () => {
  const resync = (value: string) => {
    const parsed = parseCommandLine(["--resync-period", value], noEnv);
    return parsed.command === "run" ? parsed.options.resyncPeriodMs : undefined;
  };
  assert.equal(resync("45s"), 45_000);
  assert.equal(resync("2m"), 120_000);
  assert.equal(resync("1h"), 3_600_000);
});

Deno.test("parseCommandLine() reads --instance-status-period, 30s by default", () => {
  const period = (args: string[]) => {
    const parsed = parseCommandLine(args, noEnv);
    return parsed.command === "run" ? parsed.options.instanceStatusPeriodMs : undefined;
  };
  assert.equal(period([]), 30_000);
  assert.equal(period(["--instance-status-period", "5s"]), 5_000);
  assert.throws(
    () => period(["--instance-status-period", "0s"]),
    /Invalid value "0s" for --instance-status-period/,
  );
});

Deno.test("parseCommandLine() takes repeated namespaces and flags before the command's", () => {
  const parsed = parseCommandLine(
    [
      "run",
      "--namespace",
      "a",
      "--namespace=b",
      "--leader-elect",
      "--max-concurrent-reconciles",
      "8",
    ],
    noEnv,
  );
  assert.ok(parsed.command === "run");
  assert.deepEqual(parsed.options.namespaces, ["a", "b"]);
  assert.equal(parsed.options.leaderElect, true);
  assert.equal(parsed.options.maxConcurrentReconciles, 8);
});

Deno.test("parseCommandLine() reads DBOP_ environment variables, flags win", () => {
  const env = (name: string) =>
    ({ DBOP_LOG_LEVEL: "debug", DBOP_NAMESPACE: "x, y", DBOP_LEADER_ELECT: "true" })[name];
  const parsed = parseCommandLine(["--log-format", "json"], env);
  assert.ok(parsed.command === "run");
  assert.equal(parsed.options.logLevel, "debug");
  assert.equal(parsed.options.logFormat, "json");
  assert.deepEqual(parsed.options.namespaces, ["x", "y"]);
  assert.equal(parsed.options.leaderElect, true);
  assert.equal(envName("health-probe-bind-address"), "DBOP_HEALTH_PROBE_BIND_ADDRESS");
});

Deno.test("parseCommandLine() names the flag and the accepted values on bad input", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^Unknown flag "--bogus": see "dbop --help"/],
    [
      ["--log-level", "loud"],
      /^Invalid value "loud" for --log-level: expected one of "debug", "info", "warning", "error"$/,
    ],
    [["--log-format=xml"], /--log-format: expected one of "auto", "json", "text"/],
    [
      ["--max-concurrent-reconciles", "0"],
      /--max-concurrent-reconciles: expected a whole number from 1 to 256/,
    ],
    [
      ["--metrics-bind-address", "eight"],
      /--metrics-bind-address: expected "host:port", ":port" or "0"/,
    ],
    [["--resync-period", "10"], /--resync-period: expected a duration as "30s", "10m" or "1h"/],
    [["--resync-period", "0s"], /--resync-period: expected a duration/],
    [["frobnicate"], /^Unknown command "frobnicate"/],
    [["render"], /"--file" \(-f\) is required/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseCommandLine(args, noEnv),
      (e) => e instanceof UsageError && message.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("parseCommandLine() recognises render, crds, version and help", () => {
  assert.deepEqual(parseCommandLine(["render", "-f", "c.yaml"], noEnv), {
    command: "render",
    file: "c.yaml",
  });
  assert.deepEqual(parseCommandLine(["crds"], noEnv), { command: "crds" });
  assert.deepEqual(parseCommandLine(["--version"], noEnv), { command: "version" });
  assert.deepEqual(parseCommandLine(["run", "--help"], noEnv), { command: "help", topic: "run" });
});
