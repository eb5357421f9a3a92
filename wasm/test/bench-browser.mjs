// bench-browser.mjs times the built helper package in headless Chromium (bench-page.js):
//   OPA_REVEAL_PKG=OUTDIR node bench-browser.mjs [n]
// It serves the package, jose's browser build and the page from a local HTTP server (localhost is
// a secure context, so WebCrypto is there), and prints the page's JSON result.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const pkg = process.env.OPA_REVEAL_PKG;
if (!pkg) throw new Error("OPA_REVEAL_PKG must name the built package (wasm/build.sh OUTDIR)");
const roots = { "/pkg/": pkg, "/jose/": join(here, "node_modules/jose/dist/webapi"), "/": here };
const page = `<!doctype html><meta charset="utf-8"><title>bench</title>
<script type="importmap">{"imports": {"@opakit/opa-reveal": "/pkg/opa-reveal.js", "jose": "/jose/index.js"}}</script>
<script type="module" src="/bench-page.js"></script>`;
const types = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
const server = createServer(async (req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/") return res.writeHead(200, { "Content-Type": "text/html" }).end(page);
  const prefix = Object.keys(roots).find((p) => path.startsWith(p));
  const file = normalize(join(roots[prefix], path.slice(prefix.length)));
  if (!file.startsWith(roots[prefix]) || (prefix === "/" && path !== "/bench-page.js")) return res.writeHead(404).end();
  try {
    res.writeHead(200, { "Content-Type": types[extname(file)] || "application/octet-stream" }).end(await readFile(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://localhost:${server.address().port}/?n=${process.argv[2] || 200}`;
const { execFile } = await import("node:child_process");
const { promisify } = await import("node:util");
try {
  // Asynchronously: this process's event loop serves the page meanwhile.
  const { stdout } = await promisify(execFile)("node", [join(here, "pages.mjs"), url], { maxBuffer: 1 << 20 });
  const out = JSON.parse(stdout);
  if (out[0].pageErrors.length) throw new Error("page errors: " + out[0].pageErrors.join("; "));
  process.stdout.write(JSON.stringify(out[0].result, null, 1) + "\n");
} finally {
  server.close();
}
