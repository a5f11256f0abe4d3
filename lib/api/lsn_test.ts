import assert from "node:assert/strict";
import { compareLsn, formatLsn, lsnLag, parseLsn } from "./lsn.ts";

Deno.test("parseLsn() reads both halves as one 64-bit position", () => {
  assert.equal(parseLsn("0/0"), 0n);
  assert.equal(parseLsn("0/3000148"), 0x3000148n);
  assert.equal(parseLsn("16/B374D848"), (0x16n << 32n) + 0xB374D848n);
  assert.equal(parseLsn("FFFFFFFF/FFFFFFFF"), (1n << 64n) - 1n);
  assert.equal(parseLsn("16/b374d848"), parseLsn("16/B374D848"));
});

Deno.test("parseLsn() rejects what PostgreSQL never prints", () => {
  for (const text of ["", "16", "16/", "/1", "1/2/3", "G/0", "123456789/0", " 0/1"]) {
    assert.throws(() => parseLsn(text), /Invalid LSN/, text);
  }
});

Deno.test("formatLsn() spells positions as PostgreSQL does", () => {
  assert.equal(formatLsn(0n), "0/0");
  assert.equal(formatLsn((0x16n << 32n) + 0xB374D848n), "16/B374D848");
  for (const text of ["0/3000148", "1/0", "FFFFFFFF/FFFFFFFF"]) {
    assert.equal(formatLsn(parseLsn(text)), text);
  }
  assert.throws(() => formatLsn(-1n), /out of range/);
  assert.throws(() => formatLsn(1n << 64n), /out of range/);
});

Deno.test("lsnLag() counts bytes across the 4 GiB boundary and never goes negative", () => {
  assert.equal(lsnLag("1/0", "0/FFFFFFFF"), 1n);
  assert.equal(lsnLag("0/3000148", "0/3000000"), 0x148n);
  assert.equal(lsnLag("0/3000000", "0/3000148"), 0n);
  assert.equal(lsnLag("10/0", "0/0"), 16n << 32n);
});

Deno.test("compareLsn() orders by position, not by text", () => {
  assert.equal(compareLsn("0/A", "0/9"), 1);
  assert.equal(compareLsn("0/10", "0/9"), 1);
  assert.equal(compareLsn("1/0", "0/FFFFFFFF"), 1);
  assert.equal(compareLsn("0/9", "0/9"), 0);
  assert.equal(compareLsn("0/9", "1/0"), -1);
});
