import assert from "node:assert/strict";
import { renderBackupScript } from "./scripts.ts";

const SCRIPTS = { "backup.sh": renderBackupScript() };

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

Deno.test("backup.sh writes a custom-format dump atomically and prunes to the retention", () => {
  const script = SCRIPTS["backup.sh"];
  assert.match(script, /pg_dump --format=custom --no-password --file="\$partial"/);
  assert.match(script, /mv "\$partial" "\$BACKUP_DIR\/\$name"/);
  assert.match(script, /sort -r \|\n\s+tail -n "\+\$\(\(retention \+ 1\)\)"/);
  assert.match(script, /\[ "\$retention" -ge 1 \]/);
});
