// opa-reveal.js — ES module that loads opa-reveal.wasm (built by build.sh) with Go's wasm_exec.js and
// exposes the browser-side reveal helper. The private key never leaves the WASM module: the page
// only ever holds an opaque handle and the public JWK it sends in a reveal request.
//
//   import { generateKey, decrypt, destroyKey } from "./opa-reveal.js";
//   const { handle, publicJwk } = await generateKey({ kind: "P-256" });
//   // POST …/reveal_credentials {"public_key": publicJwk, "user_access_method": uam}
//   const password = await decrypt(resp.password_jwe, handle);
//   await destroyKey(handle);
//
// Every function returns a Promise. A rejection is an Error with a `code`: "invalid_argument",
// "unknown_key", "decrypt_failed" (which never says why), "internal" or "load_failed".
import "./wasm_exec.js";

let loading = null;
let program = null; // {go, exited}: the running Go program, for close()

// load starts the module once and resolves to the raw API object (globalThis.opaReveal). `source` is
// the .wasm as a URL or string (fetched), a Response, or bytes (ArrayBuffer / typed array, e.g. read
// from disk under node). Without it, opa-reveal.wasm next to this module is fetched. Later calls
// return the same Promise whatever their argument.
export function load(source) {
  if (!loading) {
    loading = start(source ?? new URL("./opa-reveal.wasm", import.meta.url)).catch((err) => {
      loading = null;
      const e = new Error("opa-reveal: could not load the WASM module: " + (err && err.message));
      e.code = "load_failed";
      throw e;
    });
  }
  return loading;
}

async function start(source) {
  const go = new globalThis.Go();
  let instance;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    ({ instance } = await WebAssembly.instantiate(source, go.importObject));
  } else {
    const resp = source instanceof Response ? source : await fetch(source);
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const bytes = await resp.arrayBuffer(); // not instantiateStreaming: servers may send another MIME type
    ({ instance } = await WebAssembly.instantiate(bytes, go.importObject));
  }
  const exited = go.run(instance); // resolves only when the Go program exits (after close())
  program = { go, exited };
  const api = globalThis.opaReveal;
  if (!api) throw new Error("module did not register opaReveal");
  return api;
}

/** generateKey({kind}) → {handle, publicJwk}; kind "P-256" (default), "P-384", "RSA-2048", "RSA-3072". */
export async function generateKey(options) {
  return (await load()).generateKey(options);
}

/** publicJwk(handle) → the public JWK (plain object). */
export async function publicJwk(handle) {
  return (await load()).publicJwk(handle);
}

/** exportPrivateJwk(handle) → the private JWK. Only for an explicit user request: it is a secret. */
export async function exportPrivateJwk(handle) {
  return (await load()).exportPrivateJwk(handle);
}

/** decrypt(jwe, handle) → the password (string). */
export async function decrypt(jwe, handle) {
  return (await load()).decrypt(jwe, handle);
}

/** destroyKey(handle): forget the private key. */
export async function destroyKey(handle) {
  return (await load()).destroyKey(handle);
}

/** close(): forget every key and stop the Go program; load() may be called again afterwards. */
export async function close() {
  if (!loading) return;
  const api = await loading;
  loading = null;
  await api.close();
  const { go, exited } = program;
  program = null;
  await exited;
  // wasm_exec.js leaves Go runtime timers scheduled after the program exits; firing one would throw
  // "Go program has already exited". Cancel them.
  for (const t of go._scheduledTimeouts?.values() ?? []) clearTimeout(t);
  go._scheduledTimeouts?.clear();
}
