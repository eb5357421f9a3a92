// Tests of the built package (@opakit/opa-reveal, wasm/build.sh OUTDIR) under node, against an
// independent JOSE implementation (the npm package `jose`). Run by scripts/test-browser.sh:
//   OPA_REVEAL_PKG=OUTDIR OPA_ENCRYPT_BIN=<built wasm/testdata/encrypt> node --test interop.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as jose from "jose";

const pkg = process.env.OPA_REVEAL_PKG;
assert.ok(pkg, "OPA_REVEAL_PKG must name the built package directory (wasm/build.sh OUTDIR)");
const globalsBefore = new Set(Object.getOwnPropertyNames(globalThis));
const reveal = await import(pathToFileURL(join(pkg, "opa-reveal.js")).href);
const wasm = (name) => readFile(join(pkg, name));

const kinds = [
  { opts: { alg: "ECDH-ES", crv: "P-256" }, alg: "ECDH-ES" },
  { opts: { alg: "ECDH-ES", crv: "P-384" }, alg: "ECDH-ES" },
  { opts: { alg: "RSA-OAEP-256", modulusLength: 2048 }, alg: "RSA-OAEP-256" },
  { opts: { alg: "RSA-OAEP-256", modulusLength: 3072 }, alg: "RSA-OAEP-256" },
  { opts: { crv: "P-256", inGo: true }, alg: "ECDH-ES", gokeys: true },
  { opts: { crv: "P-384", inGo: true }, alg: "ECDH-ES", gokeys: true },
];
const passwords = ["correct horse battery staple", "pässwörd-🔑", "x".repeat(200)];
const encrypt = async (pw, jwk, alg, hdr = {}) =>
  new jose.CompactEncrypt(new TextEncoder().encode(pw)).setProtectedHeader({ alg, enc: "A256GCM", ...hdr }).encrypt(await jose.importJWK(jwk, alg));

test("before load() every function rejects with not_loaded", async () => {
  await assert.rejects(reveal.generateKey(), { name: "OpaRevealError", code: "not_loaded" });
  await assert.rejects(reveal.reveal({ token: "t", path: "/x", userAccessMethod: {} }), { code: "not_loaded" });
});

test("a module that cannot load rejects with load_failed", async () => {
  await assert.rejects(reveal.load(new Uint8Array([0, 97, 115, 109, 9])), { code: "load_failed" });
});

test("loading defines no global", async () => {
  await reveal.load(await wasm("opa-reveal.wasm"));
  const added = Object.getOwnPropertyNames(globalThis).filter((n) => !globalsBefore.has(n));
  assert.deepEqual(added, []);
});

for (const module of ["opa-reveal.wasm", "opa-reveal-gokeys.wasm"]) {
  test(`${module}: jose encrypts to the helper's keys; the helper decrypts`, async (t) => {
    await reveal.close();
    await reveal.load(await wasm(module));
    for (const { opts, alg, gokeys } of kinds) {
      await t.test(JSON.stringify(opts), async () => {
        if (gokeys && module === "opa-reveal.wasm") {
          await assert.rejects(reveal.generateKey(opts), { code: "unsupported" });
          return;
        }
        const key = await reveal.generateKey(opts);
        assert.ok(Object.isFrozen(key) && Object.isFrozen(key.publicJwk));
        assert.equal(key.publicJwk.alg, alg);
        assert.equal(key.publicJwk.use, "enc");
        assert.equal(key.extractable, false);
        for (const m of ["d", "p", "q", "dp", "dq", "qi", "k"]) assert.equal(key.publicJwk[m], undefined, m);
        assert.equal(key.publicJwk.kid, await jose.calculateJwkThumbprint(key.publicJwk, "sha256"));
        if (!gokeys) {
          assert.equal(key.privateKey.extractable, false);
          await assert.rejects(crypto.subtle.exportKey("jwk", key.privateKey), { name: /InvalidAccess/ });
          await assert.rejects(crypto.subtle.exportKey("pkcs8", key.privateKey), { name: /InvalidAccess/ });
        }
        await assert.rejects(reveal.exportPrivateJwk(key), { code: "not_extractable" });
        for (const pw of passwords) {
          assert.equal(await reveal.decrypt(key, await encrypt(pw, key.publicJwk, alg, { kid: key.publicJwk.kid })), pw);
        }
        if (alg === "ECDH-ES") {
          const withParties = await encrypt("apu/apv", key.publicJwk, alg, { apu: jose.base64url.encode("Alice"), apv: jose.base64url.encode("Bob") });
          assert.equal(await reveal.decrypt(key, withParties), "apu/apv");
        }
        // Other content encryption, or a JWE for another key, is refused with the generic error.
        const a128 = await new jose.CompactEncrypt(new TextEncoder().encode("x")).setProtectedHeader({ alg, enc: "A128GCM" })
          .encrypt(await jose.importJWK(key.publicJwk, alg));
        await assert.rejects(reveal.decrypt(key, a128), { code: "decrypt_failed", message: "opa-reveal: decryption failed" });
        if (opts.modulusLength !== 3072) { // (an RSA-3072 key takes seconds to generate)
          const other = await reveal.generateKey(opts);
          await assert.rejects(reveal.decrypt(key, await encrypt("x", other.publicJwk, alg)), { code: "decrypt_failed" });
        }
        await assert.rejects(reveal.decrypt({ ...key }, a128), { code: "unknown_key" }); // a copy is no handle
        await reveal.destroyKey(key);
        await assert.rejects(reveal.decrypt(key, a128), { code: "unknown_key" });
      });
    }
  });
}

test("an extractable key exports a private JWK jose decrypts with", async () => {
  for (const opts of [{ crv: "P-384", extractable: true }, { alg: "RSA-OAEP-256", extractable: true }, { inGo: true, extractable: true }]) {
    const key = await reveal.generateKey(opts); // the gokeys module is loaded
    const priv = await reveal.exportPrivateJwk(key);
    assert.equal(typeof priv.d, "string");
    const jwe = await encrypt("both ways", key.publicJwk, key.alg);
    const { key_ops, ext, ...members } = priv; // WebCrypto's export limits the use to unwrapKey
    const { plaintext } = await jose.compactDecrypt(jwe, await jose.importJWK({ ...members, alg: key.alg }, key.alg));
    assert.equal(new TextDecoder().decode(plaintext), "both ways");
  }
});

test("reveal() posts only the public key and decrypts the answer", async () => {
  const seen = [];
  const fakeFetch = async (url, init) => {
    seen.push({ url, init });
    const body = JSON.parse(init.body);
    if (url.endsWith("/denied")) return new Response(JSON.stringify({ message: "no policy" }), { status: 403 });
    return Response.json({ password_jwe: await encrypt("revealed!", body.public_key, body.public_key.alg) });
  };
  const uam = { identity: "svc", user_access_type: "active_directory_account" };
  const pw = await reveal.reveal({ baseURL: "https://opa.test", token: "tok", path: "/v1/x/reveal_credentials", userAccessMethod: uam, fetch: fakeFetch });
  assert.equal(pw, "revealed!");
  assert.equal(seen[0].url, "https://opa.test/v1/x/reveal_credentials");
  assert.equal(seen[0].init.headers.Authorization, "Bearer tok");
  const body = JSON.parse(seen[0].init.body);
  assert.deepEqual(Object.keys(body).sort(), ["public_key", "user_access_method"]);
  assert.deepEqual(Object.keys(body.public_key).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
  const rsa = await reveal.generateKey({ alg: "RSA-OAEP-256" });
  assert.equal(await reveal.reveal({ token: "tok", path: "/v1/y", userAccessMethod: uam, key: rsa, fetch: fakeFetch }), "revealed!");
  assert.deepEqual(Object.keys(JSON.parse(seen[1].init.body).public_key).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
  await assert.rejects(reveal.reveal({ token: "tok", path: "/denied", userAccessMethod: uam, fetch: fakeFetch }), { code: "http_error", status: 403, message: /403: no policy/ });
  await assert.rejects(reveal.reveal({ token: "", path: "/v1/y", userAccessMethod: uam, fetch: fakeFetch }), { code: "invalid_argument" });
});

test("Go revealjwe encrypts to a key generated by jose; jose decrypts", async () => {
  const bin = process.env.OPA_ENCRYPT_BIN;
  assert.ok(bin, "OPA_ENCRYPT_BIN must name the built wasm/testdata/encrypt helper");
  const cases = [];
  for (const [alg, opts] of [
    ["ECDH-ES", { crv: "P-256" }],
    ["ECDH-ES", { crv: "P-384" }],
    ["ECDH-ES", { crv: "P-521" }],
    ["RSA-OAEP-256", { modulusLength: 2048 }],
    ["RSA-OAEP-256", { modulusLength: 3072 }],
    ["RSA-OAEP-256", { modulusLength: 4096 }],
  ]) {
    const { publicKey, privateKey } = await jose.generateKeyPair(alg, { ...opts, extractable: true });
    const jwk = { ...(await jose.exportJWK(publicKey)), alg, use: "enc", kid: `jose-${alg}-${JSON.stringify(opts)}` };
    const privJwk = { ...(await jose.exportJWK(privateKey)), alg };
    cases.push({ alg, jwk, privateKey, privJwk, plaintext: `pw for ${jwk.kid} ✓` });
  }
  const reqs = cases.map((c) => ({ jwk: c.jwk, plaintext: c.plaintext }));
  // A private JWK must be refused by the Go side.
  reqs.push({ jwk: cases[0].privJwk, plaintext: "never" });
  reqs.push({ jwk: cases[3].privJwk, plaintext: "never" });
  const out = JSON.parse(execFileSync(bin, { input: JSON.stringify(reqs) }).toString());
  assert.equal(out.length, reqs.length);
  for (const [i, c] of cases.entries()) {
    assert.ok(out[i].jwe, `no JWE for ${c.jwk.kid}: ${JSON.stringify(out[i])}`);
    const { plaintext, protectedHeader } = await jose.compactDecrypt(out[i].jwe, c.privateKey, {
      keyManagementAlgorithms: [c.alg],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    assert.equal(new TextDecoder().decode(plaintext), c.plaintext);
    assert.equal(protectedHeader.alg, c.alg);
    assert.equal(protectedHeader.enc, "A256GCM");
    assert.equal(protectedHeader.kid, c.jwk.kid);
  }
  assert.deepEqual(out.slice(cases.length), [{ error: "invalid_key" }, { error: "invalid_key" }]);
});

test("bad arguments reject with coded errors", async () => {
  await assert.rejects(reveal.generateKey({ alg: "RSA-OAEP-256", modulusLength: 1024 }), (e) => e instanceof reveal.OpaRevealError && e.code === "invalid_argument");
  await assert.rejects(reveal.generateKey({ alg: "dir" }), { code: "invalid_argument" });
  await assert.rejects(reveal.generateKey({ crv: "P-521" }), { code: "invalid_argument" });
  await assert.rejects(reveal.generateKey({ extractable: "yes" }), { code: "invalid_argument" });
  await assert.rejects(reveal.generateKey(null), { code: "invalid_argument" });
  const key = await reveal.generateKey();
  await assert.rejects(reveal.decrypt(key, 7), { code: "invalid_argument" });
  await assert.rejects(reveal.decrypt("k_x", "a.b.c.d.e"), { code: "unknown_key" });
  await assert.rejects(reveal.decrypt(key, "a.b.c.d.e"), { code: "decrypt_failed" });
});

test("close() stops the module; load() starts it again", async () => {
  await reveal.close();
  await assert.rejects(reveal.generateKey(), { code: "not_loaded" });
  await reveal.load(await wasm("opa-reveal.wasm"));
  assert.ok((await reveal.generateKey()).publicJwk.kid);
});

test.after(async () => {
  await reveal.close();
});
