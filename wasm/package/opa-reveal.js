// @opakit/opa-reveal — the browser half of an Okta Privileged Access password reveal.
//
//   import { load, generateKey, decrypt, reveal } from "@opakit/opa-reveal";
//   await load();                                   // or load(wasmURL)
//   const password = await reveal({ baseURL, token, path, userAccessMethod });
//
// The private key is a WebCrypto CryptoKey generated with extractable: false: no script on the page,
// this module included, can read it, and the WebAssembly module (Go, see wasm/ in github.com/opakit/opa)
// generates it, parses and checks the JWE and lays out the Concat KDF, while RSA-OAEP, ECDH, SHA-256
// and AES-GCM run in crypto.subtle. Only the public JWK is ever sent. The module defines no global: Go's runtime glue
// (go-runtime.js, Go's wasm_exec.js wrapped at build time) runs against a private scope object whose
// lookups fall through to globalThis, and the Go program hands its functions over through a one-shot
// registration function on that scope.
//
// Every function returns a Promise; a rejection is an OpaRevealError with a stable `code`
// (see opa-reveal.d.ts). decrypt_failed never says why.
import { goClass } from "./go-runtime.js";

/** The error of every rejection. `code` is stable; `status` is set for http_error. */
export class OpaRevealError extends Error {
  constructor(code, message, status) {
    super(message);
    this.name = "OpaRevealError";
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

const fail = (code, message, status) => new OpaRevealError(code, "opa-reveal: " + message, status);
// Go rejects with an Error carrying a code; anything else is unexpected.
const wrap = (e) =>
  e instanceof OpaRevealError ? e : typeof e?.code === "string" ? new OpaRevealError(e.code, e.message) : fail("internal", "internal error");

let loading = null; // Promise of the running module


/**
 * load(wasm?) starts the WebAssembly module once. `wasm` is its URL (string or URL; fetched), a
 * Response, or its bytes; by default opa-reveal.wasm next to this module. Load
 * opa-reveal-gokeys.wasm instead to allow keys held in Go (generateKey({inGo: true})) where
 * WebCrypto is missing. Later calls return the same Promise until close().
 */
export function load(wasm) {
  if (!loading) {
    loading = start(wasm ?? new URL("./opa-reveal.wasm", import.meta.url)).catch((err) => {
      loading = null;
      throw err instanceof OpaRevealError ? err : fail("load_failed", "could not load the WebAssembly module: " + (err?.message ?? err));
    });
  }
  return loading.then(() => undefined);
}

async function start(source) {
  let bytes;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    bytes = source;
  } else {
    const resp = source instanceof Response ? source : await fetch(source);
    if (!resp.ok) throw new Error(`HTTP ${resp.status} for ${resp.url || source}`);
    bytes = await resp.arrayBuffer(); // not instantiateStreaming: servers may send another MIME type
  }
  // The Go runtime's globalThis: own properties (the registration function, wasm_exec.js's fs and
  // process stand-ins) stay here; every other lookup is the real global's, read on the real global
  // so that its getters work.
  const scope = new Proxy(Object.create(null), {
    get: (t, k) => (Object.hasOwn(t, k) ? t[k] : Reflect.get(globalThis, k)),
  });
  const Go = goClass(scope);
  const go = new Go();
  const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
  const name = "opaRevealRegister_" + Math.random().toString(36).slice(2);
  let api = null;
  scope[name] = (a) => { api = a; };
  go.env = { OPA_REVEAL_REGISTER: name };
  let exited;
  try {
    exited = go.run(instance); // runs main synchronously up to its first wait: it registers
  } finally {
    delete scope[name];
  }
  if (!api) throw new Error("the module did not register");
  const current = { api, go, exited, exports: instance.exports };
  return current;
}

async function api() {
  return (await running()).api;
}

async function running() {
  if (!loading) throw fail("not_loaded", "call load() first");
  return loading;
}

const utf8 = new TextEncoder();

// prepare calls Go's opaRevealPrepare export (wasm/export_js.go): the JWE parsed and checked against
// the key, as a plan for webDecrypt, or an error code.
function prepare(x, desc, jwe) {
  const d = utf8.encode(desc), j = utf8.encode(jwe);
  const ptr = x.opaRevealBuffer(d.length + j.length);
  const mem = new Uint8Array(x.mem.buffer);
  mem.set(d, ptr);
  mem.set(j, ptr + d.length);
  const n = x.opaRevealPrepare(d.length, j.length);
  if (n < 0) return n === -1 ? "decrypt_failed" : "invalid_argument";
  const at = x.opaRevealResult();
  return new Uint8Array(x.mem.buffer).slice(at, at + n); // a copy: Go's memory may be reused or grow
}

// handles maps each handle this module made to its private part: {privateKey} or {goId}.
const handles = new WeakMap();

function makeHandle(info, priv) {
  const h = Object.freeze({
    alg: info.alg,
    ...(info.alg === "ECDH-ES" ? { crv: info.crv } : { modulusLength: info.modulusLength }),
    extractable: info.extractable,
    inGo: info.inGo,
    publicJwk: Object.freeze({ ...info.publicJwk }),
    privateKey: priv.privateKey ?? null,
  });
  handles.set(h, priv);
  return h;
}

function known(handle) {
  const priv = handle && typeof handle === "object" ? handles.get(handle) : undefined;
  if (!priv) throw fail("unknown_key", "not a key handle of this module, or destroyed");
  return priv;
}

/**
 * generateKey({alg, crv, modulusLength, extractable, inGo}) → a frozen handle with publicJwk.
 * alg "ECDH-ES" (default; crv "P-256" (default) or "P-384") or "RSA-OAEP-256" (modulusLength 2048
 * (default) or 3072). The private key is a non-extractable CryptoKey unless extractable: true.
 * inGo: true holds an ECDH-ES key in Go memory instead (needs opa-reveal-gokeys.wasm).
 */
export async function generateKey(options = {}) {
  const a = await api();
  if (options === null || typeof options !== "object") throw fail("invalid_argument", "options must be an object");
  const { alg = "ECDH-ES", crv = "P-256", modulusLength = 2048, extractable = false, inGo = false } = options;
  if (typeof extractable !== "boolean" || typeof inGo !== "boolean") throw fail("invalid_argument", "extractable and inGo must be booleans");
  const info = { alg, crv, modulusLength, extractable, inGo };
  try {
    if (inGo) {
      const { id, publicJwk } = await a.generateGoKey({ alg, crv, extractable });
      return makeHandle({ ...info, publicJwk }, { goId: id });
    }
    const { privateKey, publicJwk } = await a.generateKey({ alg, crv, modulusLength, extractable });
    return makeHandle({ ...info, publicJwk }, { privateKey, desc: describe(privateKey) });
  } catch (e) {
    throw wrap(e);
  }
}

/** decrypt(handle, jwe) → the password the compact JWE carries. */
export async function decrypt(handle, jwe) {
  const { api: a, exports: x } = await running();
  const priv = known(handle);
  if (typeof jwe !== "string") throw fail("invalid_argument", "jwe must be a string");
  if (priv.goId) {
    try {
      return await a.decryptGo(priv.goId, jwe);
    } catch (e) {
      throw wrap(e);
    }
  }
  // Go parses and checks the JWE and lays out the Concat KDF's input, synchronously, through a
  // WebAssembly export; the WebCrypto calls are chained here, so that no Promise waits on a return
  // into Go (wasm/export_js.go says why).
  const plan = prepare(x, priv.desc, jwe);
  if (typeof plan === "string") throw fail(plan, plan === "decrypt_failed" ? "decryption failed" : "cannot decrypt with this key");
  try {
    return await webDecrypt(priv.privateKey, plan);
  } catch {
    throw fail("decrypt_failed", "decryption failed");
  }
}

// describe returns what Go's prepare needs to know of a private CryptoKey (its JWE algorithm and
// curve or modulus size), or "" for a key this module cannot use.
function describe(k) {
  const a = k?.algorithm;
  if (a?.name === "ECDH" && (a.namedCurve === "P-256" || a.namedCurve === "P-384")) return "ECDH-ES " + a.namedCurve;
  if (a?.name === "RSA-OAEP" && a.hash?.name === "SHA-256") return "RSA-OAEP-256 " + a.modulusLength / 8;
  return "";
}

// fields splits prepare's answer: a kind byte, then length-prefixed (big-endian uint32) fields.
function fields(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  for (let o = 1; o < buf.length; ) {
    const n = dv.getUint32(o);
    out.push(buf.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return out;
}

// webDecrypt runs prepare's plan with crypto.subtle: ECDH (deriveBits) and the Concat KDF's single
// SHA-256 round, or RSA-OAEP unwrapping; then AES-GCM. The content key is a non-extractable
// CryptoKey; the shared secret and the KDF input are zeroed once used.
async function webDecrypt(privateKey, plan) {
  const s = crypto.subtle;
  const f = fields(plan);
  let cek, iv, aad, data;
  if (plan[0] === 1) {
    const [epkPoint, kdfPrefix, kdfSuffix] = f;
    [iv, aad, data] = f.slice(3);
    const curve = privateKey.algorithm.namedCurve;
    const epk = await s.importKey("raw", epkPoint, { name: "ECDH", namedCurve: curve }, true, []);
    const z = new Uint8Array(await s.deriveBits({ name: "ECDH", public: epk }, privateKey, ((epkPoint.length - 1) / 2) * 8));
    const input = new Uint8Array(kdfPrefix.length + z.length + kdfSuffix.length);
    input.set(kdfPrefix);
    input.set(z, kdfPrefix.length);
    input.set(kdfSuffix, kdfPrefix.length + z.length);
    z.fill(0);
    const raw = new Uint8Array(await s.digest("SHA-256", input));
    input.fill(0);
    cek = await s.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
    raw.fill(0);
  } else {
    [, iv, aad, data] = f;
    cek = await s.unwrapKey("raw", f[0], privateKey, { name: "RSA-OAEP" }, "AES-GCM", false, ["decrypt"]);
    if (cek.algorithm.length !== 256) throw new Error("not an A256GCM key"); // A256GCM only
  }
  const pt = await s.decrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: 128 }, cek, data);
  return new TextDecoder().decode(pt);
}

/**
 * exportPrivateJwk(handle) → the private JWK, only for a key generated with extractable: true
 * (else not_extractable). The result is a secret: never log it, never send it.
 */
export async function exportPrivateJwk(handle) {
  const a = await api();
  const priv = known(handle);
  if (!handle.extractable) throw fail("not_extractable", "the key was not generated with extractable: true");
  try {
    if (priv.goId) return await a.exportGoKey(priv.goId);
    return await crypto.subtle.exportKey("jwk", priv.privateKey);
  } catch (e) {
    throw wrap(e);
  }
}

/** destroyKey(handle): the handle no longer decrypts; a key held in Go is erased from the module. */
export async function destroyKey(handle) {
  const a = await api();
  const priv = known(handle);
  handles.delete(handle);
  if (priv.goId) await a.destroyGoKey(priv.goId).catch(() => {});
}

/**
 * reveal({baseURL, token, path, userAccessMethod, key, fetch}) runs a whole reveal: POSTs
 * {"public_key", "user_access_method"} to baseURL + path (the reveal_credentials URL, e.g.
 * /v1/teams/T/active_directory/C/accounts/A/reveal_credentials) with the bearer token, and
 * decrypts the answer's password_jwe. Without `key` it uses a fresh ECDH-ES P-256 key, destroyed
 * afterwards. A non-2xx answer rejects with http_error (status, and the server's message).
 */
export async function reveal({ baseURL = "", token, path, userAccessMethod, key, fetch: f = globalThis.fetch } = {}) {
  await api();
  if (typeof token !== "string" || !token || typeof path !== "string" || !path.startsWith("/")) {
    throw fail("invalid_argument", "token and path (starting with /) are required");
  }
  if (userAccessMethod === null || typeof userAccessMethod !== "object") throw fail("invalid_argument", "userAccessMethod must be an object");
  const handle = key ?? (await generateKey());
  known(handle);
  try {
    let resp;
    try {
      resp = await f(baseURL + path, {
        method: "POST",
        headers: { Authorization: "Bearer " + token, "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ public_key: handle.publicJwk, user_access_method: userAccessMethod }),
      });
    } catch (e) {
      throw fail("http_error", "the reveal request failed: " + (e?.message ?? e), 0);
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!resp.ok) throw fail("http_error", `reveal answered ${resp.status}${data?.message ? ": " + data.message : ""}`, resp.status);
    if (typeof data?.password_jwe !== "string") throw fail("http_error", "the reveal answer has no password_jwe", resp.status);
    return await decrypt(handle, data.password_jwe);
  } finally {
    if (!key) await destroyKey(handle).catch(() => {});
  }
}

const DB = "opa-reveal", STORE = "keys";

function db() {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === "undefined") return reject(fail("storage_failed", "IndexedDB is not available"));
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(fail("storage_failed", "could not open IndexedDB: " + req.error?.message));
  });
}

async function tx(mode, f) {
  const d = await db();
  try {
    return await new Promise((resolve, reject) => {
      const t = d.transaction(STORE, mode);
      const req = f(t.objectStore(STORE));
      t.oncomplete = () => resolve(req.result);
      t.onerror = t.onabort = () => reject(fail("storage_failed", "IndexedDB: " + (t.error?.message ?? "aborted")));
    });
  } finally {
    d.close();
  }
}

/**
 * storeKey(handle, name) keeps a WebCrypto key in IndexedDB (database "opa-reveal") under name. The
 * CryptoKey is stored as itself (structured clone), so it stays non-extractable; a key held in Go
 * cannot be stored.
 */
export async function storeKey(handle, name) {
  const priv = known(handle);
  if (typeof name !== "string" || !name) throw fail("invalid_argument", "name must be a non-empty string");
  if (priv.goId) throw fail("invalid_argument", "a key held in Go cannot be stored");
  const { alg, crv, modulusLength, extractable, publicJwk } = handle;
  await tx("readwrite", (s) => s.put({ alg, crv, modulusLength, extractable, publicJwk: { ...publicJwk }, privateKey: priv.privateKey }, name));
}

/** loadStoredKey(name) → the handle of a key storeKey kept, or null. */
export async function loadStoredKey(name) {
  await api();
  if (typeof name !== "string" || !name) throw fail("invalid_argument", "name must be a non-empty string");
  const rec = await tx("readonly", (s) => s.get(name));
  if (!rec) return null;
  return makeHandle({ ...rec, inGo: false }, { privateKey: rec.privateKey, desc: describe(rec.privateKey) });
}

/** deleteStoredKey(name) removes a stored key (no error if there is none). */
export async function deleteStoredKey(name) {
  if (typeof name !== "string" || !name) throw fail("invalid_argument", "name must be a non-empty string");
  await tx("readwrite", (s) => s.delete(name));
}

/** close(): forget the keys held in Go and stop the module; load() may be called again. */
export async function close() {
  if (!loading) return;
  const l = loading;
  loading = null;
  const { api: a, go, exited } = await l;
  await a.close();
  await exited;

  // wasm_exec.js leaves Go runtime timers scheduled after the program exits; firing one would throw
  // "Go program has already exited". Cancel them.
  for (const t of go._scheduledTimeouts?.values() ?? []) clearTimeout(t);
  go._scheduledTimeouts?.clear();
}
