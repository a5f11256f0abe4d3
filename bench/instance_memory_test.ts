import assert from "node:assert/strict";
import { parseVmRss } from "./instance_memory.ts";

Deno.test("parseVmRss() reads the resident set in bytes from /proc/<pid>/status", () => {
  const status = "Name:\tdeno\nVmPeak:\t  900000 kB\nVmRSS:\t   48128 kB\nRssAnon:\t 30000 kB\n";
  assert.equal(parseVmRss(status), 48128 * 1024);
  assert.throws(() => parseVmRss("Name:\tdeno\n"), /No VmRSS/);
});
