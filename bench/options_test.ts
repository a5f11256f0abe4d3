import assert from "node:assert/strict";
import { parseBenchArgs } from "./options.ts";

Deno.test("parseBenchArgs() defaults to N=100 with dbop's default workers", () => {
  const command = parseBenchArgs([]);
  assert.equal(command.options.n, 100);
  assert.equal(command.options.workers, 4);
  assert.equal(command.options.steadySeconds, 120);
  assert.equal(command.options.resyncPeriod, "60s");
  assert.equal(command.json, false);
});

Deno.test("parseBenchArgs() reads sizes, switches and the output directory", () => {
  const command = parseBenchArgs([
    "--n",
    "1000",
    "--json",
    "--out",
    "bench/results",
    "--skip-floor",
  ]);
  assert.equal(command.options.n, 1000);
  assert.equal(command.options.skipFloor, true);
  assert.equal(command.json, true);
  assert.equal(command.out, "bench/results");
});

Deno.test("parseBenchArgs() names the flag on bad input", () => {
  assert.throws(() => parseBenchArgs(["--n", "ten"]), /Invalid value "ten" for --n/);
  assert.throws(() => parseBenchArgs(["--resync-period", "60"]), /--resync-period/);
  assert.throws(() => parseBenchArgs(["--bogus"]), /deno task bench --help/);
});
