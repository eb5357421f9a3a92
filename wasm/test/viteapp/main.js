// main.js is a front-end developer's use of @opakit/opa-reveal: installed from its npm tarball,
// bundled by Vite (which turns the package's new URL("./opa-reveal.wasm", import.meta.url) into an
// asset). Against the API at ?api= (another origin, allowed by opaserver -cors-origin) it signs in
// with the service key in ?key= and ?secret=, takes the first account of the first AD connection
// and its first user access method, and reveals the password with reveal(). It leaves
// {password, kid, error} in window.pageResult.
import { load, generateKey, reveal, OpaRevealError } from "@opakit/opa-reveal";

const q = new URLSearchParams(location.search);
const api = q.get("api");
const team = encodeURIComponent(q.get("team"));
const result = {};
async function call(method, path, token, body) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  if (body) headers["Content-Type"] = "application/json";
  const resp = await fetch(api + path, { method, headers, body: body && JSON.stringify(body) });
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status}`);
  return resp.json();
}
try {
  await load();
  const { bearer_token: token } = await call("POST", `/v1/teams/${team}/service_token`, "", { key_id: q.get("key"), key_secret: q.get("secret") });
  const ad = (await call("GET", `/v1/teams/${team}/active_directory`, token)).list[0];
  const base = `/v1/teams/${team}/active_directory/${ad.id}/accounts`;
  const account = (await call("GET", base, token)).list[0].account;
  const uam = (await call("GET", `${base}/${account.id}/user_access_methods`, token)).list[0];
  const key = await generateKey({ alg: "ECDH-ES", crv: "P-384" });
  result.kid = key.publicJwk.kid;
  result.extractable = key.privateKey.extractable;
  result.password = await reveal({ baseURL: api, token, path: `${base}/${account.id}/reveal_credentials`, userAccessMethod: uam, key });
  result.account = account.username;
} catch (e) {
  result.error = (e instanceof OpaRevealError ? e.code + ": " : "") + (e?.message ?? String(e));
}
document.getElementById("out").textContent = result.error ? "error" : "revealed";
window.pageResult = result;
