// Node.js module hook: serves a .json file imported without
// `with { type: "json" }` as an ES module whose default export is the parsed
// JSON. @actions/workflow-parser's dist imports its bundled schemas that way,
// which Node.js 20 refuses. Nothing else is changed; check.mjs registers it.
import { readFile } from "node:fs/promises";

export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && url.endsWith(".json")) {
    const text = await readFile(new URL(url), "utf8");
    JSON.parse(text); // fail here, naming the file, on a broken JSON file
    return { format: "module", source: `export default ${text};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
