// Minifies dist/index.js (tsc's output) into dist/wshub.min.js, reports its
// size, and copies it to the chat example, which serves it to its page.
// With --check it only verifies that the chat's copy is up to date.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const chatCopy = "../../examples/chat/static/wshub.js";
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
    have = readFileSync(chatCopy, "utf8");
  } catch {
    // missing: reported below
  }
  if (have !== Buffer.from(code).toString("utf8")) {
    console.error(`${chatCopy} is not the build of src/: run npm run build in clients/js and commit it`);
    process.exit(1);
  }
} else {
  writeFileSync("dist/wshub.min.js", code);
  writeFileSync(chatCopy, code);
}
