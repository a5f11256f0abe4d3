import assert from "node:assert/strict";
import { describeRejections, parseRejections, type Rejections } from "./rejections.ts";

const CONF = "/etc/dbop/config/postgresql.conf";
const none: Rejections = { settings: [], hbaFile: "/etc/dbop/config/pg_hba.conf", hba: [] };

Deno.test("describeRejections() is undefined when PostgreSQL refuses nothing", () => {
  assert.equal(describeRejections(none), undefined);
});

Deno.test("describeRejections() names the file, line, setting and error of a refused value", () => {
  const refused = {
    ...none,
    settings: [{
      file: CONF,
      line: 17,
      name: "work_mem",
      setting: "8XB",
      error: "setting could not be applied",
    }],
  };
  assert.equal(
    describeRejections(refused),
    "PostgreSQL did not take its configuration as written: postgresql.conf line 17: " +
      "work_mem = '8XB': setting could not be applied, its previous value stays",
  );
});

Deno.test("describeRejections() says an unknown parameter, a syntax error or a failed include keeps the whole file", () => {
  const refused = {
    ...none,
    settings: [
      {
        file: CONF,
        line: 18,
        name: "wrok_mem",
        setting: "1MB",
        error: "unrecognized configuration parameter",
      },
      { file: CONF, line: 19, name: null, setting: null, error: "syntax error" },
      {
        file: CONF,
        line: 20,
        name: null,
        setting: null,
        error: 'could not open file "/x/extra.conf"',
      },
    ],
  };
  assert.equal(
    describeRejections(refused),
    "PostgreSQL did not take its configuration as written: postgresql.conf line 18: wrok_mem: " +
      "unrecognized configuration parameter, so none of postgresql.conf's changes were applied; " +
      "postgresql.conf line 19: syntax error, so none of postgresql.conf's changes were applied; " +
      'postgresql.conf line 20: could not open file "/x/extra.conf", so none of ' +
      "postgresql.conf's changes were applied",
  );
});

Deno.test("describeRejections() names refused pg_hba.conf lines; a line that never matches keeps the file", () => {
  const hba = {
    ...none,
    hba: [{ line: 7, error: 'invalid CIDR mask in address "10.0.0.0/33"' }],
  };
  assert.equal(
    describeRejections(hba),
    "PostgreSQL did not take its configuration as written: pg_hba.conf line 7: " +
      'invalid CIDR mask in address "10.0.0.0/33"; so the previous pg_hba.conf stays',
  );
  const warning = {
    ...none,
    hba: [{ line: 9, error: "hostssl record cannot match because SSL is disabled" }],
  };
  assert.equal(
    describeRejections(warning),
    "PostgreSQL did not take its configuration as written: pg_hba.conf line 9: " +
      "hostssl record cannot match because SSL is disabled",
  );
});

Deno.test("parseRejections() takes the query's row and refuses anything else", () => {
  const row = {
    settings: [{ file: CONF, line: 3, name: "a", setting: "b", error: "e" }],
    hbaFile: "/x/pg_hba.conf",
    hba: [{ line: 2, error: "e" }],
  };
  assert.deepEqual(parseRejections(JSON.stringify(row)), row);
  for (
    const bad of [
      { ...row, hba: [{ line: "2", error: "e" }] },
      { ...row, settings: [{ ...row.settings[0], error: null }] },
      { ...row, hbaFile: null },
      { settings: [], hba: [] },
    ]
  ) {
    assert.throws(() => parseRejections(JSON.stringify(bad)), /Unexpected answer/);
  }
});
