import assert from "node:assert/strict";
import { bootstrapSql, quoteIdent, quoteLiteral } from "./sql.ts";

Deno.test("quoteIdent() and quoteLiteral() double their quote and refuse NUL", () => {
  assert.equal(quoteIdent('we"ird'), '"we""ird"');
  assert.equal(quoteLiteral("it's \\ fine"), "'it''s \\ fine'");
  assert.throws(() => quoteIdent("a\u0000"), /NUL/);
  assert.throws(() => quoteLiteral("a\u0000"), /NUL/);
});

Deno.test("bootstrapSql() quotes every name and password and keeps them out of the log", () => {
  const sql = bootstrapSql({
    superuser: { name: "postgres", password: "s'1" },
    replication: { name: "streaming_replica", password: "r\\2" },
    app: { name: 'app"user', password: "a3", database: "my db" },
  });
  assert.match(sql, /^SET log_statement = 'none';/);
  assert.match(sql, /ALTER ROLE "postgres" WITH PASSWORD 's''1';/);
  assert.match(sql, /ALTER ROLE "streaming_replica" WITH LOGIN REPLICATION PASSWORD 'r\\2';/);
  assert.match(sql, /ALTER ROLE "app""user" WITH LOGIN PASSWORD 'a3';/);
  assert.match(sql, /format\('CREATE DATABASE %I OWNER %I', 'my db', 'app"user'\)/);
  assert.doesNotMatch(
    bootstrapSql({
      superuser: { name: "postgres", password: "s" },
      replication: { name: "streaming_replica", password: "r" },
    }),
    /CREATE DATABASE/,
  );
});
