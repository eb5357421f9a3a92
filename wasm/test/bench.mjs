// bench.mjs times the built helper package through its JS API under node, the way a page uses it:
//   OPA_REVEAL_PKG=OUTDIR node bench.mjs   (after wasm/build.sh OUTDIR)
// It prints medians of generateKey and decrypt per key type (decrypt includes the Promise round
// trips and WebCrypto), plus module load time. JWEs come from the `jose` package.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as jose from "jose";

const pkg = process.env.OPA_REVEAL_PKG;
if (!pkg) throw new Error("OPA_REVEAL_PKG must name the built package (wasm/build.sh OUTDIR)");
const reveal = await import(pathToFileURL(join(pkg, "opa-reveal.js")).href);
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const t0 = performance.now();
await reveal.load(await readFile(join(pkg, "opa-reveal.wasm")));
console.log(`load (compile + instantiate + run): ${(performance.now() - t0).toFixed(1)} ms`);
const pw = new TextEncoder().encode("Tr0ub4dor&3-correct-horse-batt!!");
for (const [kind, opts, genN, decN] of [
  ["P-256", { alg: "ECDH-ES", crv: "P-256" }, 50, 300],
  ["P-384", { alg: "ECDH-ES", crv: "P-384" }, 30, 200],
  ["RSA-2048", { alg: "RSA-OAEP-256", modulusLength: 2048 }, 10, 200],
  ["RSA-3072", { alg: "RSA-OAEP-256", modulusLength: 3072 }, 5, 100],
]) {
  const gen = [];
  let key;
  for (let i = 0; i < genN; i++) {
    const s = performance.now();
    key = await reveal.generateKey(opts);
    gen.push(performance.now() - s);
  }
  const jwe = await new jose.CompactEncrypt(pw).setProtectedHeader({ alg: opts.alg, enc: "A256GCM" })
    .encrypt(await jose.importJWK(key.publicJwk, opts.alg));
  const dec = [];
  for (let i = 0; i < decN; i++) {
    const s = performance.now();
    await reveal.decrypt(key, jwe);
    dec.push(performance.now() - s);
  }
  console.log(`${kind}: generateKey median ${median(gen).toFixed(2)} ms (n=${genN}), decrypt median ${median(dec).toFixed(3)} ms (n=${decN})`);
}
await reveal.close();
