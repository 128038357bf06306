// Builds ../cotation/studio/static/editor.js: one minified file, committed as package data.
// Reproduce: cd studio-ui && npm ci && npm run build
import {build} from "esbuild";
await build({
  entryPoints: ["src/editor.js"], bundle: true, minify: true, format: "iife",
  target: ["es2020"], outfile: "../cotation/studio/static/editor.js", legalComments: "eof",
  banner: {js: "/* cotation studio editor: CodeMirror 6 (MIT, see THIRD_PARTY_LICENSES.txt) */"},
});

// Licence notices of every bundled package, next to the bundle.
import fs from "node:fs";
import path from "node:path";
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
let out = "Third-party software bundled in cotation/studio/static/editor.js\n" +
  "(built from studio-ui/ with esbuild; versions pinned in studio-ui/package-lock.json)\n";
for (const [p, info] of Object.entries(lock.packages)) {
  if (!p || info.dev) continue;
  let lic = "";
  for (const f of ["LICENSE", "LICENSE.md", "LICENSE.txt"]) {
    if (fs.existsSync(path.join(p, f))) { lic = fs.readFileSync(path.join(p, f), "utf8"); break; }
  }
  out += `\n==== ${p.replace(/^node_modules\//, "")} ${info.version} (${info.license}) ====\n${lic}\n`;
}
fs.writeFileSync("../cotation/studio/static/THIRD_PARTY_LICENSES.txt", out);
