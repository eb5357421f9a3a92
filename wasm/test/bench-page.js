// bench-page.js: the helper's timings in a browser page (run by bench-browser.mjs). The same
// loop as bench.mjs: per key type, generateKey and decrypt medians through the package's API (decrypt
// of a JWE made by jose), plus the same WebCrypto operations called directly from JS (the floor
// any WebCrypto-based decryption pays), and the module's load time. Sets window.pageResult.
import * as reveal from "@opakit/opa-reveal";
import * as jose from "jose";

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = crypto.subtle;
const out = { kinds: {} };
let t = performance.now();
await reveal.load();
out.loadMs = performance.now() - t;
const pw = new TextEncoder().encode("Tr0ub4dor&3-correct-horse-batt!!");

// floor decrypts jwe with WebCrypto from JS alone: what the helper does minus Go (the Concat KDF
// here is the same single SHA-256 round).
async function floor(key, jwe) {
  const [h, ek, iv, ct, tag] = jwe.split(".").map((p, i) => (i === 0 ? p : jose.base64url.decode(p)));
  const hdr = JSON.parse(new TextDecoder().decode(jose.base64url.decode(h)));
  let cek;
  if (hdr.alg === "ECDH-ES") {
    const x = jose.base64url.decode(hdr.epk.x), y = jose.base64url.decode(hdr.epk.y);
    const pt = new Uint8Array(1 + x.length + y.length); pt[0] = 4; pt.set(x, 1); pt.set(y, 1 + x.length);
    const epk = await s.importKey("raw", pt, { name: "ECDH", namedCurve: hdr.epk.crv }, true, []);
    const z = new Uint8Array(await s.deriveBits({ name: "ECDH", public: epk }, key.privateKey, x.length * 8));
    const enc = new TextEncoder().encode("A256GCM");
    const input = new Uint8Array(4 + z.length + 4 + enc.length + 4 + 4 + 4);
    const dv = new DataView(input.buffer);
    dv.setUint32(0, 1); input.set(z, 4); dv.setUint32(4 + z.length, enc.length); input.set(enc, 8 + z.length);
    dv.setUint32(input.length - 4, 256);
    cek = await s.importKey("raw", await s.digest("SHA-256", input), "AES-GCM", false, ["decrypt"]);
  } else {
    cek = await s.unwrapKey("raw", ek, key.privateKey, { name: "RSA-OAEP" }, "AES-GCM", false, ["decrypt"]);
  }
  const both = new Uint8Array(ct.length + tag.length); both.set(ct); both.set(tag, ct.length);
  return new TextDecoder().decode(await s.decrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(h) }, cek, both));
}

// Times are medians over rounds of the mean of 20 sequential calls (Chromium rounds
// performance.now() to 0.1 ms, too coarse for single calls; the median drops rounds another
// process disturbed), alternating the helper and the JS-only floor so both see the same conditions.
const n = Number(new URLSearchParams(location.search).get("n") || 200);
for (const [kind, opts, genN] of [
  ["P-256", { alg: "ECDH-ES", crv: "P-256" }, 20],
  ["P-384", { alg: "ECDH-ES", crv: "P-384" }, 20],
  ["RSA-2048", { alg: "RSA-OAEP-256", modulusLength: 2048 }, 5],
  ["RSA-3072", { alg: "RSA-OAEP-256", modulusLength: 3072 }, 3],
]) {
  let key;
  t = performance.now();
  for (let i = 0; i < genN; i++) key = await reveal.generateKey(opts);
  const gen = (performance.now() - t) / genN;
  const jwe = await new jose.CompactEncrypt(pw).setProtectedHeader({ alg: opts.alg, enc: "A256GCM" }).encrypt(await jose.importJWK(key.publicJwk, opts.alg));
  if ((await reveal.decrypt(key, jwe)) !== "Tr0ub4dor&3-correct-horse-batt!!") throw new Error("wrong plaintext");
  const dec = [], js = [];
  for (let r = 0; r < n; r += 20) {
    t = performance.now();
    for (let i = 0; i < 20; i++) await reveal.decrypt(key, jwe);
    dec.push((performance.now() - t) / 20);
    t = performance.now();
    for (let i = 0; i < 20; i++) await floor(key, jwe);
    js.push((performance.now() - t) / 20);
  }
  out.kinds[kind] = { generateKeyMs: gen, decryptMs: median(dec), webCryptoFromJsMs: median(js), calls: dec.length * 20 };
}
await reveal.close();
window.pageResult = out;
