import assert from "node:assert/strict";
import { RESERVED_PARAMETERS } from "../../api/mod.ts";
import { testCluster } from "../testdata/clusters.ts";
import {
  quoteConfValue,
  renderPgHba,
  renderPgIdent,
  renderPostgresqlConf,
  synchronousStandbyNames,
} from "./postgresql_conf.ts";

/** The settings of a postgresql.conf text, as name to quoted value. */
function settings(text: string): Map<string, string> {
  const entries = text.split("\n").filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(" = ") as [string, string]);
  return new Map(entries);
}

/** The rules of a pg_hba.conf text, as lists of columns. */
function rules(text: string): string[][] {
  return text.split("\n").filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(/\s+/));
}

Deno.test("quoteConfValue() escapes quotes, backslashes and line breaks", () => {
  assert.equal(quoteConfValue("256MB"), "'256MB'");
  assert.equal(quoteConfValue("it's"), "'it''s'");
  assert.equal(quoteConfValue("a\\b"), "'a\\\\b'");
  assert.equal(quoteConfValue("a\nb"), "'a\\nb'");
});

Deno.test("renderPostgresqlConf() sets the settings dbop owns", () => {
  const conf = settings(renderPostgresqlConf(testCluster({ network: { port: 6543 } })));
  assert.equal(conf.get("listen_addresses"), undefined, "the pod IP, on the command line");
  assert.equal(conf.get("port"), "'6543'");
  assert.equal(conf.get("wal_level"), "'replica'");
  assert.equal(conf.get("hot_standby"), "'on'");
  assert.equal(conf.get("max_wal_senders"), "'110'");
  assert.equal(conf.get("password_encryption"), "'scram-sha-256'");
  assert.equal(conf.get("cluster_name"), "'pg'");
});

Deno.test("renderPostgresqlConf() turns TLS on and off and names no path", () => {
  const on = settings(renderPostgresqlConf(testCluster()));
  assert.equal(on.get("ssl"), "'on'");
  for (const name of ["ssl_cert_file", "ssl_key_file", "hba_file", "unix_socket_directories"]) {
    assert.equal(on.has(name), false, name);
  }
  const off = settings(
    renderPostgresqlConf(testCluster({ security: { tls: { enabled: false } } })),
  );
  assert.equal(off.get("ssl"), "'off'");
  assert.equal(off.has("ssl_cert_file"), false);
});

Deno.test("renderPostgresqlConf() follows the authentication type for password_encryption", () => {
  const cluster = testCluster({ security: { authentication: { type: "md5" } } });
  assert.equal(settings(renderPostgresqlConf(cluster)).get("password_encryption"), "'md5'");
});

Deno.test("renderPostgresqlConf() adds user parameters sorted, overriding dbop defaults", () => {
  const parameters = { work_mem: "16MB", shared_buffers: "2GB", wal_keep_size: "4GB" };
  const text = renderPostgresqlConf(testCluster({ postgresql: { parameters } }));
  const conf = settings(text);
  assert.equal(conf.get("wal_keep_size"), "'4GB'");
  assert.equal(text.match(/^wal_keep_size/gm)?.length, 1);
  assert.ok(text.indexOf("shared_buffers") < text.indexOf("work_mem"));
  assert.equal(settings(renderPostgresqlConf(testCluster())).get("wal_keep_size"), "'1GB'");
});

Deno.test("renderPostgresqlConf() owns every setting the API reserves that it needs", () => {
  const conf = settings(renderPostgresqlConf(testCluster()));
  const unset = [
    "archive_command",
    "config_file",
    "data_directory",
    // Paths and the address of the pod, which the instance manager passes on the command line.
    "hba_file",
    "listen_addresses",
    "unix_socket_directories",
    "ssl_cert_file",
    "ssl_key_file",
    "ident_file",
    "primary_conninfo",
    "primary_slot_name",
    "restore_command",
    "ssl_ca_file",
    "synchronous_standby_names",
  ];
  for (const name of RESERVED_PARAMETERS.filter((name) => !unset.includes(name))) {
    assert.ok(conf.has(name), name);
  }
});

Deno.test("renderPgHba() requires TLS and scram by default, keeps the superuser local, and lets the replication role in", () => {
  assert.deepEqual(rules(renderPgHba(testCluster())), [
    ["local", "all", "dbop_monitor", "peer", "map=monitoring"],
    ["local", "all", "all", "peer"],
    ["host", "all", "postgres", "all", "reject"],
    ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
    ["host", "all", "all", "::1/128", "scram-sha-256"],
    ["hostssl", "replication", "streaming_replica", "all", "scram-sha-256"],
    ["hostssl", "all", "all", "all", "scram-sha-256"],
    ["hostnossl", "all", "all", "all", "reject"],
  ]);
});

Deno.test("renderPgHba() lets the superuser in over the network with enableSuperuserAccess", () => {
  const hba = rules(renderPgHba(testCluster({ security: { enableSuperuserAccess: true } })));
  assert.ok(hba.every((rule) => rule[2] !== "postgres"));
  assert.deepEqual(hba.at(-2), ["hostssl", "all", "all", "all", "scram-sha-256"]);
});

Deno.test("renderPgIdent() maps the postgres OS user to the exporter's role only", () => {
  const lines = renderPgIdent().split("\n").filter((line) => line && !line.startsWith("#"));
  assert.deepEqual(lines.map((line) => line.split(/\s+/)), [[
    "monitoring",
    "postgres",
    "dbop_monitor",
  ]]);
});

Deno.test("renderPgHba() uses md5 when chosen and plain host rules without TLS", () => {
  const cluster = testCluster({
    security: { tls: { enabled: false }, authentication: { type: "md5" } },
  });
  const hba = rules(renderPgHba(cluster));
  assert.deepEqual(hba.at(-2), ["host", "replication", "streaming_replica", "all", "md5"]);
  assert.deepEqual(hba.at(-1), ["host", "all", "all", "all", "md5"]);
  assert.ok(hba.every((rule) => rule[0] !== "hostnossl" && rule[0] !== "hostssl"));
});

Deno.test("synchronousStandbyNames() lists every instance, and lowers a preferred number to the streaming standbys", () => {
  assert.equal(synchronousStandbyNames(testCluster({ replicas: 3 })), undefined);
  const required = testCluster({ replicas: 3, ha: { synchronous: { number: 1 } } });
  assert.equal(synchronousStandbyNames(required), 'ANY 1 ("pg-0", "pg-1", "pg-2")');
  assert.equal(
    settings(renderPostgresqlConf(required)).get("synchronous_standby_names"),
    `'ANY 1 ("pg-0", "pg-1", "pg-2")'`,
  );
  const first = testCluster({ replicas: 3, ha: { synchronous: { method: "first", number: 2 } } });
  assert.equal(synchronousStandbyNames(first), 'FIRST 2 ("pg-0", "pg-1", "pg-2")');
  const preferred = (streaming: boolean[]) => {
    const cluster = testCluster({
      replicas: 3,
      ha: { synchronous: { number: 2, durability: "preferred" } },
    });
    cluster.status = {
      instances: streaming.map((s, i) => ({
        name: `pg-${i + 1}`,
        ready: true,
        role: "standby" as const,
        streaming: s,
      })),
    };
    return synchronousStandbyNames(cluster);
  };
  assert.equal(preferred([true, true]), 'ANY 2 ("pg-0", "pg-1", "pg-2")');
  assert.equal(preferred([true, false]), 'ANY 1 ("pg-0", "pg-1", "pg-2")');
  assert.equal(preferred([false, false]), "");
});
