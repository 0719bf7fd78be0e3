// Bundles the dashboard into dist/: app.js (esbuild), index.html, styles.css and favicon.svg copied as they are.
// `node build.mjs` (npm run build). Envoy serves dist/ next to grpc-web.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const out = new URL("./dist/", import.meta.url);
await rm(out, { recursive: true, force: true });
await mkdir(out);
await build({
  entryPoints: [new URL("./src/main.ts", import.meta.url).pathname],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  outfile: new URL("app.js", out).pathname,
  logLevel: "warning",
});
for (const file of ["index.html", "styles.css", "favicon.svg"]) {
  await copyFile(new URL(`./static/${file}`, import.meta.url), new URL(file, out));
}
console.log(`built ${out.pathname}`);
