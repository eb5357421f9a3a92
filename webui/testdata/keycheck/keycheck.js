// keycheck.js proves in a real browser that a key of @opakit/opa-reveal cannot leave the page: run
// by webui's TestKeyCannotLeaveInChromium, first as ?phase=store, then (same profile) as
// ?phase=reload. It sets window.pageResult = {failures: [...], checks: N}.
const failures = [];
let checks = 0;
const check = (ok, what) => { checks++; if (!ok) failures.push(what); };
const privateNames = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
// hasPrivate reports whether v holds, at any depth, an object with a private JWK member, or a
// CryptoKey that is extractable.
function hasPrivate(v, seen = new Set()) {
  if (v === null || typeof v !== "object" || seen.has(v)) return false;
  seen.add(v);
  if (v instanceof CryptoKey) return v.type !== "public" && v.extractable;
  if (privateNames.some((m) => Object.hasOwn(v, m))) return true;
  return Object.values(v).some((x) => hasPrivate(x, seen));
}
async function encryptTo(jwk, plaintext) {
  const resp = await fetch("/encrypt", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ public_key: jwk, plaintext }) });
  if (!resp.ok) throw new Error("encrypt: " + resp.status + " " + (await resp.text()));
  return (await resp.json()).password_jwe;
}
async function rejects(p, test, what) {
  try { await p; check(false, what + ": resolved"); } catch (e) { check(test(e), what + ": " + e?.name + " " + e?.code + " " + e?.message); }
}
async function cannotExport(key, what) {
  check(key.privateKey instanceof CryptoKey && key.privateKey.type === "private" && key.privateKey.extractable === false, what + ": a non-extractable private CryptoKey");
  for (const format of ["jwk", "pkcs8"]) {
    await rejects(crypto.subtle.exportKey(format, key.privateKey), (e) => e.name === "InvalidAccessError", `${what}: exportKey(${format})`);
  }
  await rejects(crypto.subtle.wrapKey("jwk", key.privateKey, await crypto.subtle.generateKey({ name: "AES-KW", length: 256 }, false, ["wrapKey"]), "AES-KW"),
    (e) => e.name === "InvalidAccessError", `${what}: wrapKey`);
}

const phase = new URLSearchParams(location.search).get("phase");
try {
  const before = new Set(Object.getOwnPropertyNames(globalThis));
  const m = await import("@opakit/opa-reveal");
  await m.load();
  const added = Object.getOwnPropertyNames(globalThis).filter((n) => !before.has(n));
  check(added.length === 0, "loading defined globals: " + added.join(","));
  if (phase === "store") {
    const kinds = [{ alg: "ECDH-ES", crv: "P-256" }, { alg: "ECDH-ES", crv: "P-384" }, { alg: "RSA-OAEP-256", modulusLength: 2048 }, { alg: "RSA-OAEP-256", modulusLength: 3072 }];
    for (const opts of kinds) {
      const what = JSON.stringify(opts);
      const key = await m.generateKey(opts);
      check(!hasPrivate(key), what + ": the handle holds private material");
      check(JSON.stringify(Object.keys(key).sort()) === JSON.stringify(["alg", opts.crv ? "crv" : "modulusLength", "extractable", "inGo", "privateKey", "publicJwk"].sort()), what + ": handle members " + Object.keys(key));
      await cannotExport(key, what);
      await rejects(m.exportPrivateJwk(key), (e) => e.code === "not_extractable", what + ": exportPrivateJwk");
      const jwe = await encryptTo(key.publicJwk, "pw " + what);
      check((await m.decrypt(key, jwe)) === "pw " + what, what + ": decrypt");
      // Every function the module exports, called with the handle (and a JWE), returns nothing private.
      for (const [name, f] of Object.entries(m)) {
        if (typeof f !== "function" || name === "close" || name === "OpaRevealError") continue;
        for (const args of [[key], [key, jwe], [key, "probe"], [{ key, token: "t", path: "/none", userAccessMethod: {}, fetch: async () => new Response("{}", { status: 500 }) }]]) {
          let r;
          try { r = await f(...args); } catch (e) { r = e; }
          check(!hasPrivate(r), `${what}: ${name}(${args.length} args) returned private material`);
        }
      }
      const gone = await m.loadStoredKey("probe"); // storeKey(key, "probe") above kept it
      if (gone) await m.deleteStoredKey("probe");
    }
    const keep = await m.generateKey({ alg: "ECDH-ES", crv: "P-256" });
    await m.storeKey(keep, "kept");
    localStorage.setItem("kept-jwk", JSON.stringify(keep.publicJwk));
    // An extractable key is the explicit exception.
    const ex = await m.generateKey({ alg: "RSA-OAEP-256", extractable: true });
    check(typeof (await m.exportPrivateJwk(ex)).d === "string", "an extractable key exports");
    // Keys held in Go need the gokeys module.
    await rejects(m.generateKey({ inGo: true }), (e) => e.code === "unsupported", "inGo without gokeys");
  } else {
    const key = await m.loadStoredKey("kept");
    check(key !== null, "the kept key is in IndexedDB after a reload");
    if (key) {
      check(JSON.stringify(key.publicJwk) === localStorage.getItem("kept-jwk"), "the kept key's public JWK");
      await cannotExport(key, "kept key");
      check((await m.decrypt(key, await encryptTo(key.publicJwk, "after reload"))) === "after reload", "the kept key decrypts");
      await m.deleteStoredKey("kept");
      check((await m.loadStoredKey("kept")) === null, "deleteStoredKey");
    }
  }
} catch (e) {
  failures.push("threw: " + (e?.stack || e));
}
window.pageResult = { failures, checks };
