// demo.js drives the reveal demo page: service-key sign-in, domain/account/access-method pickers,
// and a reveal with the browser helper package @opakit/opa-reveal (mapped to pkg/ by the page's
// import map), whose private keys are non-extractable WebCrypto keys. Plain JS, no framework.
// The package is imported dynamically so that a helper that cannot load (not built, blocked)
// shows an error on the page instead of leaving it silently dead.
let helper = null; // the @opakit/opa-reveal module once loaded
const keyOptions = {
  "P-256": { alg: "ECDH-ES", crv: "P-256" },
  "P-384": { alg: "ECDH-ES", crv: "P-384" },
  "RSA-2048": { alg: "RSA-OAEP-256", modulusLength: 2048 },
  "RSA-3072": { alg: "RSA-OAEP-256", modulusLength: 3072 },
};

const $ = (id) => document.getElementById(id);
const state = { team: "", token: "", domain: "", account: "", uams: [] };

function status(msg, isError = false) {
  $("status").textContent = msg;
  $("status").className = isError ? "error" : "";
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    throw new Error(`${method} ${path}: ${resp.status} ${(data && (data.message || data.errorSummary)) || ""}`.trim());
  }
  return data;
}

const teamPath = () => `/v1/teams/${encodeURIComponent(state.team)}`;
const adPath = () => `${teamPath()}/active_directory/${encodeURIComponent(state.domain)}`;
const accountPath = () => `${adPath()}/accounts/${encodeURIComponent(state.account)}`;

function fill(select, items, value, label) {
  select.replaceChildren(
    ...items.map((it, i) => {
      const o = document.createElement("option");
      o.value = value(it, i);
      o.textContent = label(it);
      return o;
    }),
  );
}

async function signIn() {
  try {
    state.team = $("team").value.trim();
    state.token = "";
    const tok = await api("POST", `${teamPath()}/service_token`, {
      key_id: $("key-id").value.trim(),
      key_secret: $("key-secret").value,
    });
    state.token = tok.bearer_token;
    $("key-secret").value = "";
    const domains = (await api("GET", `${teamPath()}/active_directory`)).list;
    fill($("domains"), domains, (d) => d.id, (d) => d.domain || d.name || d.id);
    $("pick").disabled = false;
    status(`Signed in to ${state.team}; ${domains.length} domain(s).`);
    if (domains.length) await pickDomain();
  } catch (e) {
    status(e.message, true);
  }
}

async function pickDomain() {
  state.domain = $("domains").value;
  const accounts = (await api("GET", `${adPath()}/accounts`)).list;
  fill($("accounts"), accounts, (a) => a.account.id, (a) => `${a.account.username} (${a.account.availability_status || "?"})`);
  if (accounts.length) await pickAccount();
  else fill($("uams"), [], () => "", () => "");
}

async function pickAccount() {
  state.account = $("accounts").value;
  state.uams = (await api("GET", `${accountPath()}/user_access_methods`)).list;
  fill($("uams"), state.uams, (_, i) => String(i), (u) => u.short_text || `${u.identity} (${u.user_access_type})`);
}

async function reveal() {
  const uam = state.uams[Number($("uams").value)];
  if (!uam) return status("Pick a user access method first.", true);
  const kind = $("kind").value;
  const keep = $("keep-key").checked;
  let key;
  try {
    if (keep) key = await helper.loadStoredKey("demo-" + kind);
    if (key) {
      status("Using the key kept in this browser…");
    } else {
      status("Generating a non-extractable key pair in the browser…");
      key = await helper.generateKey(keyOptions[kind]);
      if (keep) await helper.storeKey(key, "demo-" + kind);
    }
    status("Asking the server to encrypt the password to the public key…");
    $("password").textContent = await helper.reveal({
      token: state.token,
      path: `${accountPath()}/reveal_credentials`,
      userAccessMethod: uam,
      key,
    });
    status(`Password decrypted in the browser (${kind}${keep ? ", kept key" : ""}).`);
  } catch (e) {
    status(e.code === "decrypt_failed" ? "Could not decrypt the server's answer." : e.message, true);
  } finally {
    if (key && !keep) await helper.destroyKey(key).catch(() => {});
  }
}

const guarded = (f) => () => f().catch((e) => status(e.message, true));
$("sign-in").addEventListener("click", () => signIn());
for (const id of ["team", "key-id", "key-secret"]) {
  $(id).addEventListener("keydown", (ev) => { if (ev.key === "Enter") signIn(); });
}
$("domains").addEventListener("change", guarded(pickDomain));
$("accounts").addEventListener("change", guarded(pickAccount));
$("reveal").addEventListener("click", () => reveal());
$("clear").addEventListener("click", () => { $("password").textContent = ""; });

try {
  const mod = await import("@opakit/opa-reveal");
  await mod.load();
  helper = mod;
  $("reveal").disabled = false;
  status("Ready. Sign in with a service key.");
} catch (e) {
  // A failed import says only that it failed; the server's answer says why.
  let why = e.message;
  try {
    const r = await fetch("pkg/opa-reveal.js", { method: "GET" });
    if (!r.ok) why = `${r.status}: ${(await r.text()).trim()}`;
  } catch { /* keep the import's message */ }
  status(`The reveal helper could not load (${why}); revealing is unavailable. Run opaserver from a checkout with the Go toolchain, or build the package with wasm/build.sh OUTDIR and pass -reveal-package OUTDIR.`, true);
}
