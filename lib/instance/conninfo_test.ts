import assert from "node:assert/strict";
import { buildConninfo, pgpassLine, quoteConninfoValue } from "./conninfo.ts";

Deno.test("quoteConninfoValue() escapes backslash and quote inside single quotes", () => {
  assert.equal(quoteConninfoValue("plain"), "'plain'");
  assert.equal(quoteConninfoValue(""), "''");
  assert.equal(quoteConninfoValue("it's"), "'it\\'s'");
  assert.equal(quoteConninfoValue("a\\b"), "'a\\\\b'");
  assert.equal(quoteConninfoValue("a b=c"), "'a b=c'");
  assert.equal(quoteConninfoValue("\\'"), "'\\\\\\''");
});

Deno.test("buildConninfo() keeps order and leaves out undefined values", () => {
  assert.equal(
    buildConninfo({ host: "pg-rw", port: 5432, user: "u", sslrootcert: undefined }),
    "host='pg-rw' port='5432' user='u'",
  );
  assert.throws(() => buildConninfo({ "host x": "a" }), /Invalid conninfo keyword "host x"/);
});

Deno.test("pgpassLine() escapes colon and backslash and refuses line breaks", () => {
  assert.equal(pgpassLine("streaming_replica", "a:b\\c"), "*:*:*:streaming_replica:a\\:b\\\\c\n");
  assert.throws(() => pgpassLine("u", "a\nb"), /line break/);
});
