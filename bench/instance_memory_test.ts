import assert from "node:assert/strict";
import { parseResident } from "./instance_memory.ts";

Deno.test("parseResident() reads the resident set and its parts in bytes from /proc/<pid>/status", () => {
  const status = "Name:\tdeno\nVmPeak:\t  900000 kB\nVmRSS:\t   48128 kB\nRssAnon:\t   30000 kB\n" +
    "RssFile:\t   18000 kB\nRssShmem:\t     128 kB\n";
  assert.deepEqual(parseResident(status), {
    rss: 48128 * 1024,
    anon: 30000 * 1024,
    file: 18000 * 1024,
  });
  assert.throws(() => parseResident("Name:\tdeno\nVmRSS:\t 1 kB\n"), /No RssAnon/);
});
