// Minifies dist/index.js (tsc's output) into wshub.min.js and reports its
// size. With --check it only verifies that the committed wshub.min.js is
// the build of src/.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
// wshub.min.js is committed: the Go package in this directory (js.go)
// embeds it, and the chat example serves it from there.
const bundle = "wshub.min.js";
const out = await build({
  entryPoints: ["dist/index.js"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  write: false,
  legalComments: "none",
  banner: { js: `/* ${pkg.name} ${pkg.version}: built from clients/js by npm run build; do not edit */` },
});
const code = out.outputFiles[0].contents;
const gz = gzipSync(code, { level: 9 }).length;
console.log(`${pkg.name}: ${readFileSync("dist/index.js").length} B compiled, ${code.length} B minified, ${gz} B gzipped`);
if (gz > 6 * 1024) {
  console.error(`the minified bundle is ${gz} B gzipped, over the 6 KB budget`);
  process.exit(1);
}
if (process.argv.includes("--check")) {
  let have = "";
  try {
    have = readFileSync(bundle, "utf8");
  } catch {
    // missing: reported below
  }
  if (have !== Buffer.from(code).toString("utf8")) {
    console.error(`${bundle} is not the build of src/: run npm run build in clients/js and commit it`);
    process.exit(1);
  }
} else {
  writeFileSync(bundle, code);
}
