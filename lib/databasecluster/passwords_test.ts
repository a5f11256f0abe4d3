import assert from "node:assert/strict";
import {
  generatePassword,
  PASSWORD_LENGTH,
  passwordFromSecret,
  resolvePasswords,
  resolveStatusToken,
  statusTokenFromSecret,
} from "./passwords.ts";

Deno.test("generatePassword() returns letters and digits of the requested length", () => {
  const password = generatePassword();
  assert.equal(password.length, PASSWORD_LENGTH);
  assert.ok(PASSWORD_LENGTH >= 32);
  assert.match(password, /^[A-Za-z0-9]+$/);
  assert.equal(generatePassword(64).length, 64);
});

Deno.test("generatePassword() differs between calls and uses the whole alphabet", () => {
  const passwords = Array.from({ length: 50 }, () => generatePassword());
  assert.equal(new Set(passwords).size, passwords.length);
  const symbols = new Set(passwords.join(""));
  // 2000 draws from 62 symbols miss one with probability far below 1e-10.
  assert.equal(symbols.size, 62);
});

Deno.test("generatePassword() refuses lengths under 32", () => {
  assert.throws(() => generatePassword(16), /at least 32/);
});

Deno.test("passwordFromSecret() decodes the password key", () => {
  assert.equal(passwordFromSecret({ data: { password: btoa("s3cret") } }), "s3cret");
  const utf8 = btoa(String.fromCharCode(...new TextEncoder().encode("p\u00e4ssw\u00f6rd")));
  assert.equal(passwordFromSecret({ data: { password: utf8 } }), "p\u00e4ssw\u00f6rd");
  assert.equal(passwordFromSecret({ data: {} }), undefined);
  assert.equal(passwordFromSecret(undefined), undefined);
});

Deno.test("resolvePasswords() keeps known passwords and generates only missing ones", () => {
  let calls = 0;
  const generate = () => `generated-${++calls}`;
  const resolved = resolvePasswords({ superuser: "kept" }, { withApp: true, generate });
  assert.deepEqual(resolved, { superuser: "kept", replication: "generated-1", app: "generated-2" });
  const again = resolvePasswords(resolved, { withApp: true, generate });
  assert.deepEqual(again, resolved);
  assert.equal(calls, 2);
});

Deno.test("resolvePasswords() leaves the app password out with an existing Secret", () => {
  const resolved = resolvePasswords({}, { withApp: false });
  assert.equal(resolved.app, undefined);
  assert.equal(resolved.superuser.length, PASSWORD_LENGTH);
});

Deno.test("statusTokenFromSecret() decodes the token key, empty counting as missing", () => {
  assert.equal(statusTokenFromSecret({ data: { token: btoa("t0ken") } }), "t0ken");
  assert.equal(statusTokenFromSecret({ data: { token: "" } }), undefined);
  assert.equal(statusTokenFromSecret({ data: { password: btoa("x") } }), undefined);
  assert.equal(statusTokenFromSecret(undefined), undefined);
});

Deno.test("resolveStatusToken() keeps a known token and generates one only when missing", () => {
  assert.equal(resolveStatusToken("kept", { generate: () => "new" }), "kept");
  assert.equal(resolveStatusToken(undefined, { generate: () => "new" }), "new");
  const generated = resolveStatusToken(undefined);
  assert.equal(generated.length, PASSWORD_LENGTH);
  assert.match(generated, /^[A-Za-z0-9]+$/);
  assert.notEqual(resolveStatusToken(undefined), generated);
});
