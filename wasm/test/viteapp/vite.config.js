// The package's .wasm is found with new URL(..., import.meta.url); Vite's build emits it as an
// asset. (For `vite dev`, list the package in optimizeDeps.exclude so that URL keeps working.)
export default {
  optimizeDeps: { exclude: ["@opakit/opa-reveal"] },
  build: { outDir: process.env.OPA_VITE_OUT || "dist", emptyOutDir: true },
};
