import assert from "node:assert/strict";
import {
  renderBackupScript,
  renderCloneReplicaScript,
  renderInitPrimaryScript,
  renderStartScript,
} from "./scripts.ts";

const SCRIPTS = {
  "start.sh": renderStartScript(),
  "clone-replica.sh": renderCloneReplicaScript(),
  "init-primary.sh": renderInitPrimaryScript(),
  "backup.sh": renderBackupScript(),
};

/** Upper-case variables a script expands, besides those it sets itself. */
function variablesRead(script: string): Set<string> {
  const assigned = new Set([...script.matchAll(/^\s*([A-Z_]+)=/gm)].map((m) => m[1]));
  const used = [...script.matchAll(/\$\{?([A-Z][A-Z_]+)/g)].map((m) => m[1]);
  return new Set(used.filter((name) => !assigned.has(name)));
}

Deno.test("every script is POSIX sh that stops at the first error or unset variable", () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    assert.ok(script.startsWith("#!/bin/sh\n"), name);
    assert.match(script, /^set -eu$/m, name);
    assert.doesNotMatch(script, /\[\[|^\s*function |^\s*local |\$\{[A-Za-z_]+\/|<\(/m, name);
  }
});

Deno.test("every script documents each environment variable it reads", () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    const header = script.split("\n").filter((line) => line.startsWith("#")).join("\n");
    for (const variable of variablesRead(script)) {
      assert.ok(header.includes(variable), `${name} reads ${variable} without documenting it`);
    }
  }
});

Deno.test("no script echoes a password", () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    const echoes = script.split("\n").filter((line) => /^\s*echo /.test(line));
    assert.ok(echoes.every((line) => !/PASSWORD|PGPASS/.test(line)), name);
  }
});

Deno.test("start.sh decides the role from PRIMARY_POD and streams a standby from PRIMARY_HOST", () => {
  const script = SCRIPTS["start.sh"];
  assert.match(
    script,
    /if \[ "\$POD_NAME" = "\$PRIMARY_POD" \]; then\n(\s+#.*\n)*\s+rm -f "\$PGDATA\/standby.signal"/,
  );
  assert.match(script, /touch "\$PGDATA\/standby.signal"/);
  assert.match(script, /exec "\$@" -c "primary_conninfo=\$conninfo"/);
  assert.match(script, /passfile=/);
  assert.match(script, /umask 077/);
});

Deno.test("clone-replica.sh clones with pg_basebackup into a sibling, then moves it into place", () => {
  const script = SCRIPTS["clone-replica.sh"];
  assert.match(script, /pg_basebackup --pgdata="\$target"/);
  assert.match(script, /--wal-method=stream/);
  assert.match(script, /touch "\$target\/standby.signal"/);
  assert.match(script, /mv "\$target" "\$PGDATA"/);
  assert.ok(script.indexOf('[ -s "$PGDATA/PG_VERSION" ]') < script.indexOf("pg_basebackup --"));
  assert.ok(script.indexOf('"$POD_NAME" = "$PRIMARY_POD"') < script.indexOf("pg_basebackup --"));
});

Deno.test("init-primary.sh creates the roles and database idempotently through psql variables", () => {
  const script = SCRIPTS["init-primary.sh"];
  assert.match(script, /WITH LOGIN REPLICATION PASSWORD :'replication_password'/);
  assert.match(script, /CREATE DATABASE %I OWNER %I/);
  assert.match(script, /WHERE NOT EXISTS \(SELECT FROM pg_roles WHERE rolname = :'app_user'\)/);
  assert.match(script, /ALTER ROLE :"superuser" WITH PASSWORD :'superuser_password'/);
  assert.match(script, /-v ON_ERROR_STOP=1/);
  assert.match(script, /<<'SQL'/);
});

Deno.test("backup.sh writes a custom-format dump atomically and prunes to the retention", () => {
  const script = SCRIPTS["backup.sh"];
  assert.match(script, /pg_dump --format=custom --no-password --file="\$partial"/);
  assert.match(script, /mv "\$partial" "\$BACKUP_DIR\/\$name"/);
  assert.match(script, /sort -r \|\n\s+tail -n "\+\$\(\(retention \+ 1\)\)"/);
  assert.match(script, /\[ "\$retention" -ge 1 \]/);
});
