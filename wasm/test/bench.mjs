// bench.mjs times the WASM helper through its JS API under node, the way a page uses it:
//   node bench.mjs   (after wasm/build.sh)
// It prints medians of generateKey and decrypt per key kind (decrypt includes the Promise round
// trip), plus module load time. JWEs come from the `jose` package.
import { readFile } from "node:fs/promises";
import * as jose from "jose";
import * as reveal from "../opa-reveal.js";

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const t0 = performance.now();
await reveal.load(await readFile(new URL("../opa-reveal.wasm", import.meta.url)));
console.log(`load (compile + instantiate + run): ${(performance.now() - t0).toFixed(1)} ms`);
const pw = new TextEncoder().encode("Tr0ub4dor&3-correct-horse-batt!!");
for (const [kind, alg, genN, decN] of [["P-256", "ECDH-ES", 50, 200], ["P-384", "ECDH-ES", 30, 100], ["RSA-2048", "RSA-OAEP-256", 10, 50], ["RSA-3072", "RSA-OAEP-256", 5, 20]]) {
  const gen = [];
  let key;
  for (let i = 0; i < genN; i++) {
    const s = performance.now();
    key = await reveal.generateKey({ kind });
    gen.push(performance.now() - s);
    if (i < genN - 1) await reveal.destroyKey(key.handle);
  }
  const jwe = await new jose.CompactEncrypt(pw).setProtectedHeader({ alg, enc: "A256GCM" })
    .encrypt(await jose.importJWK(key.publicJwk, alg));
  const dec = [];
  for (let i = 0; i < decN; i++) {
    const s = performance.now();
    await reveal.decrypt(jwe, key.handle);
    dec.push(performance.now() - s);
  }
  console.log(`${kind}: generateKey median ${median(gen).toFixed(2)} ms (n=${genN}), decrypt median ${median(dec).toFixed(3)} ms (n=${decN})`);
}
await reveal.close();
