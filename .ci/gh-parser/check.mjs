// Checks the repository's GitHub Actions YAML with GitHub's own parser,
// @actions/workflow-parser (actions/languageservices), pinned in package.json:
//
//   - workflows (.github/workflows/*.yml, examples/*.yml) and the ```yaml
//     snippets of README.md: parseWorkflow (its workflow schema, including
//     the contexts each key may use) then convertWorkflowTemplate;
//   - action metadata (action.yml, setup/action.yml, setup/post/action.yml,
//     examples/*/action.yml, and any ACTION_YML given as an argument) against
//     the schema GitHub's runner loads, action_yaml.json of actions/runner
//     (from ../shared/tools/gh-parser, or RUNNER_SCHEMA; see README.md), read by the package's template reader as
//     the runner's ActionManifestManager reads it, then the runner's checks
//     of `runs`; and against the package's own, stricter action schema.
//
// Before the repository's files it runs planted mistakes through the same
// checks (a self-test), so a package or schema that stopped checking fails
// here instead of passing everything.
//
//   node .ci/gh-parser/check.mjs [ACTION_YML...]
//
// Prints one line per file, and file:line:col: message under a failing one.
// Exit status 0 when everything passes, 1 when something fails, 2 when the
// check itself cannot run.

import fs from "node:fs";
import path from "node:path";
import { register } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");

function die(message) {
  console.error(`gh-parser: ${message}`);
  process.exit(2);
}

// The installed package must be the pinned one: `npm ci` installs exactly
// package-lock.json.
const pinned = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8")).dependencies["@actions/workflow-parser"];
const installedFile = path.join(here, "node_modules", "@actions", "workflow-parser", "package.json");
const installed = fs.existsSync(installedFile) ? JSON.parse(fs.readFileSync(installedFile, "utf8")).version : undefined;
if (installed !== pinned) {
  die(`@actions/workflow-parser ${installed ?? "is not installed"}${installed ? " is installed" : ""}, package.json pins ${pinned}: run \`npm ci\` in .ci/gh-parser (bash .ci/run does)`);
}

// The hook must be registered before the package is imported, hence the
// dynamic imports below.
register("./json-hooks.mjs", import.meta.url);
const { parse: parseYaml } = await import("yaml");
const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter, isMapping, isString } = await import("@actions/workflow-parser");
const { ErrorPolicy } = await import("@actions/workflow-parser/model/convert");
const { convertSteps } = await import("@actions/workflow-parser/model/converter/steps");
const { parseAction, convertActionTemplate } = await import("@actions/workflow-parser/actions/index");
const { TemplateSchema } = await import("@actions/workflow-parser/templates/schema/index");
const { JSONObjectReader } = await import("@actions/workflow-parser/templates/json-object-reader");
const { TemplateContext, TemplateValidationErrors } = await import("@actions/workflow-parser/templates/template-context");
const { readTemplate } = await import("@actions/workflow-parser/templates/template-reader");
const { YamlObjectReader } = await import("@actions/workflow-parser/workflows/yaml-object-reader");

// A problem: where (line and column in the checked text, when known) and what.
function problems(errors) {
  return errors.map(e => ({ line: e.range?.start.line, col: e.range?.start.column, message: e.rawMessage ?? e.message }));
}

// ---- workflows --------------------------------------------------------------

async function checkWorkflow(name, content) {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  if (parsed.value !== undefined) {
    // TryConversion: convert even after schema errors, to report both.
    await convertWorkflowTemplate(parsed.context, parsed.value, undefined, { errorPolicy: ErrorPolicy.TryConversion });
  }
  return problems(parsed.context.errors.getErrors());
}

// ---- action metadata: the runner's schema and checks -------------------------

// The runner's schema is not committed here (it is actions/runner's file):
// it comes from the project's shared tools beside the checkout, as CI lays
// them out, or from RUNNER_SCHEMA (a copy of src/Runner.Worker/action_yaml.json).
const runnerSchemaPath = process.env.RUNNER_SCHEMA ||
  path.join(root, "..", "shared", "tools", "gh-parser", "runner-action_yaml.json");
if (!fs.existsSync(runnerSchemaPath)) {
  console.log(`gh-parser: the runner's action_yaml.json is not at ${runnerSchemaPath}: put the project's shared/ folder beside the checkout (as CI has it), or set RUNNER_SCHEMA to a copy of actions/runner's src/Runner.Worker/action_yaml.json`);
  process.exit(2);
}
const runnerSchema = TemplateSchema.load(
  new JSONObjectReader(undefined, fs.readFileSync(runnerSchemaPath, "utf8").replace(/^\uFEFF/, "")));
const runnerSchemaOrigin = fs.existsSync(runnerSchemaPath + ".commit")
  ? fs.readFileSync(runnerSchemaPath + ".commit", "utf8").trim()
  : "commit unknown";

// As ActionManifestManager.Load: TemplateReader.Read against "action-root",
// then ConvertRuns. Errors thrown by the conversion are the runner's strings.
function checkActionRunner(name, content) {
  const context = new TemplateContext(new TemplateValidationErrors(10, 0), runnerSchema, new NoOperationTraceWriter());
  const fileId = context.getFileId(name);
  const reader = new YamlObjectReader(fileId, content);
  if (reader.errors.length > 0) {
    return reader.errors.map(e => ({ line: e.range?.start.line, col: e.range?.start.column, message: e.message }));
  }
  const token = readTemplate(context, "action-root", reader, fileId);
  try {
    convertRuns(context, token, name);
  } catch (e) {
    context.error(fileId, e);
  }
  return problems(context.errors.getErrors());
}

// ActionManifestManager.ConvertRuns (actions/runner, src/Runner.Worker):
// `using` decides which key is required; composite steps are converted as
// workflow steps, with the C# converter's check of a `uses` reference.
function convertRuns(context, token, name) {
  if (!isMapping(token)) throw new Error(`${name}: the document is not a mapping`);
  const runs = token.find("runs");
  if (runs === undefined) throw new Error(`Top level 'runs:' section is required for ${name}`);
  const get = {};
  for (const pair of runs.assertMapping("runs")) {
    const key = pair.key.assertString("runs key").value;
    if (key === "steps") {
      const steps = pair.value.assertSequence("steps");
      get.steps = convertSteps(context, steps);
      checkUses(context, steps);
    } else if (isString(pair.value)) {
      get[key] = pair.value.value;
    }
  }
  const using = get.using?.toLowerCase();
  if (using === undefined) {
    if (get.plugin === undefined) throw new Error("Missing 'using' value. 'using' requires 'composite', 'docker', 'node12', 'node16', 'node20' or 'node24'.");
  } else if (using === "docker") {
    if (!get.image) throw new Error(`You are using a Container Action but an image is not provided in ${name}.`);
  } else if (["node12", "node16", "node20", "node24"].includes(using)) {
    if (!get.main) throw new Error(`You are using a JavaScript Action but there is not an entry JavaScript file provided in ${name}.`);
  } else if (using === "composite") {
    if (get.steps === undefined) throw new Error(`You are using a composite action but there are no steps provided in ${name}.`);
  } else {
    throw new Error(`'using: ${get.using}' is not supported, use 'docker', 'node12', 'node16', 'node20' or 'node24' instead.`);
  }
}

// WorkflowTemplateConverter.ConvertToStep's check of a `uses` value.
function checkUses(context, steps) {
  for (const step of steps) {
    const uses = isMapping(step) ? step.find("uses") : undefined;
    if (!uses || !isString(uses)) continue;
    const v = uses.value;
    if (v.startsWith("docker://") || v.startsWith("./") || v.startsWith(".\\")) continue;
    const [repoPath, ref, ...rest] = v.split("@");
    const parts = repoPath.split(/[\\/]/).filter(Boolean);
    if (rest.length > 0 || !ref || parts.length < 2) {
      context.error(uses, `Expected format {org}/{repo}[/path]@ref. Actual '${v}'`);
    }
  }
}

// ---- action metadata: the package's own action schema -------------------------

// parseAction uses the schema of GitHub's editor tooling (action-v1.0.json,
// root "action-root-strict"): stricter than the runner (required name and
// description, known branding values), never more lenient.
function checkActionStrict(name, content) {
  const parsed = parseAction({ name, content }, new NoOperationTraceWriter());
  if (parsed.value !== undefined) {
    convertActionTemplate(parsed.context, parsed.value, { errorPolicy: ErrorPolicy.TryConversion });
  }
  return problems(parsed.context.errors.getErrors());
}

async function checkAction(name, content) {
  return [
    ...checkActionRunner(name, content).map(p => ({ ...p, message: `${p.message} [runner's action_yaml.json]` })),
    ...checkActionStrict(name, content).map(p => ({ ...p, message: `${p.message} [workflow-parser's action schema]` })),
  ];
}

// ---- README.md snippets ----------------------------------------------------------

// A ```yaml block of README.md is a whole workflow, a workflow without `on:`,
// a job (a mapping of job keys such as permissions, steps or if), or a list
// of steps. Each is wrapped into the smallest workflow that holds it, in a job
// that may ask for an ID token as the README's jobs do; the wrapper's lines go
// before the snippet (and, for a job without steps, one step after it), so a
// message's line maps back to README.md. A block whose fence line is preceded
// by the line `<!-- gh-parser: not a GitHub workflow -->` (CircleCI, GitLab CI)
// is skipped.
const skipMarker = "<!-- gh-parser: not a GitHub workflow -->";

function readmeSnippets(text) {
  const lines = text.split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```ya?ml\s*$/.exec(lines[i]);
    if (!fence) continue;
    let j = i + 1;
    while (j < lines.length && lines[j].trim() !== "```") j++;
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    out.push({
      fenceLine: i + 1, // 1-based; the snippet's first line is fenceLine + 1
      lines: lines.slice(i + 1, j),
      skip: k >= 0 && lines[k].trim() === skipMarker,
    });
    i = j;
  }
  return out;
}

// jobHead is a workflow up to the keys of its one job, with those the job
// (already) has left out.
function jobHead(job) {
  return [
    "on: workflow_dispatch",
    "jobs:",
    "  readme:",
    ...("runs-on" in job ? [] : ["    runs-on: ubuntu-latest"]),
    ...("permissions" in job ? [] : ["    permissions:", "      id-token: write", "      contents: read"]),
  ];
}

// wrapSnippet returns { kind, head, text, shift } or { error }: head is the
// number of wrapper lines before the snippet, shift the columns the snippet
// moved right (negative: left).
function wrapSnippet(lines) {
  const indent = Math.min(...lines.filter(l => l.trim()).map(l => /^ */.exec(l)[0].length));
  const flat = lines.map(l => l.slice(indent));
  let doc;
  try {
    doc = parseYaml(flat.join("\n"));
  } catch (e) {
    return { kind: "as is (not YAML on its own)", head: 0, shift: 0, text: lines.join("\n") + "\n" };
  }
  const wrap = (kind, head, by, tail = []) => ({
    kind, head: head.length, shift: by - indent,
    text: [...head, ...flat.map(l => (l ? " ".repeat(by) + l : l)), ...tail].join("\n") + "\n",
  });
  if (Array.isArray(doc)) {
    return wrap("steps, wrapped in a job", [...jobHead({}), "    steps:"], 6);
  }
  if (doc === null || typeof doc !== "object") return { error: "neither a workflow, a job nor a list of steps" };
  if ("jobs" in doc) {
    return "on" in doc ? wrap("workflow", [], 0) : wrap("workflow without on:, given one", ["on: workflow_dispatch"], 0);
  }
  const tail = "steps" in doc ? [] : ["    steps:", "      - run: \"true\""];
  return wrap("job, wrapped in a workflow", jobHead(doc), 4, tail);
}

// ---- self-test ---------------------------------------------------------------------

// Planted mistakes each check must refuse. An accepted one means the check is
// not checking (a changed package or schema), and fails the run.
const selfTest = [
  ["workflow", "an unknown job key", "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    step:\n      - run: 'true'\n"],
  ["workflow", "the steps context in runs-on", "on: push\njobs:\n  j:\n    runs-on: ${{ steps.a.outputs.b }}\n    steps:\n      - run: 'true'\n"],
  ["workflow", "needs naming an unknown job", "on: push\njobs:\n  j:\n    needs: nope\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n"],
  ["action", "github in a container action's runs.args",
    "name: x\ndescription: x\nruns:\n  using: docker\n  image: Dockerfile\n  args:\n    - ${{ github.workspace }}\n"],
  ["action", "env in an input default",
    "name: x\ndescription: x\ninputs:\n  a:\n    description: a\n    default: ${{ env.HOME }}\nruns:\n  using: docker\n  image: Dockerfile\n"],
  ["action", "a composite run step without shell",
    "name: x\ndescription: x\nruns:\n  using: composite\n  steps:\n    - run: 'true'\n"],
  ["action", "a container action without image", "name: x\ndescription: x\nruns:\n  using: docker\n"],
];

// ---- main --------------------------------------------------------------------------

// Hints by what was checked ("workflow" or "action") and the message.
const hints = [
  ["action", /Unrecognized named-value|Unrecognized function/, "the runner refuses this context (or function) at this key: runs.args and runs.env of a container action may use only inputs, input defaults only github, runner, job, matrix, strategy and hashFiles() (the runner's action_yaml.json lists every key's); pass a host value through an input whose default holds it"],
  ["workflow", /Unrecognized named-value|Unrecognized function/, "GitHub refuses this context (or function) at this key; see \"Context availability\" in GitHub's contexts reference"],
  [undefined, /Unexpected value|Required property is missing/, "a key GitHub does not know at this place (a typo, or the wrong indentation), or a required key missing"],
];

let failed = 0;
let checked = 0;
// report prints label's result: ok, or FAIL with each problem at where(p),
// its hint, and then the lines of after.
function report(kind, label, where, list, after = []) {
  checked++;
  if (list.length === 0) {
    console.log(`ok    ${label}`);
    return;
  }
  failed++;
  console.log(`FAIL  ${label}`);
  const said = new Set();
  for (const p of list) {
    console.log(`      ${where(p)}: ${p.message}`);
    for (const [k, re, hint] of hints) {
      if ((k === undefined || k === kind) && re.test(p.message) && !said.has(hint)) {
        said.add(hint);
        console.log(`        hint: ${hint}`);
      }
    }
  }
  for (const line of after) console.log(`      ${line}`);
}
const at = file => p => (p.line ? `${file}:${p.line}:${p.col}` : file);

console.log(`gh-parser: @actions/workflow-parser ${installed}; runner schema ${path.relative(root, runnerSchemaPath)} (${runnerSchemaOrigin.split("\n")[0]})`);

const refused = [];
for (const [kind, label, text] of selfTest) {
  const list = kind === "workflow" ? await checkWorkflow("self-test.yml", text) : checkActionRunner("self-test.yml", text);
  if (list.length === 0) {
    failed++;
    console.log(`FAIL  self-test: GitHub's parser accepted a planted mistake (${kind}: ${label}); the check does not work with this @actions/workflow-parser or action_yaml.json`);
  } else refused.push(label);
}
if (refused.length === selfTest.length) console.log(`ok    self-test: ${refused.length} planted mistakes refused`);

function glob(dir, re) {
  const d = path.join(root, dir);
  return fs.existsSync(d) ? fs.readdirSync(d).filter(f => re.test(f)).sort().map(f => path.posix.join(dir, f)) : [];
}
const read = rel => fs.readFileSync(path.resolve(root, rel), "utf8");

for (const rel of [...glob(".github/workflows", /\.ya?ml$/), ...glob("examples", /\.ya?ml$/)]) {
  report("workflow", rel, at(rel), await checkWorkflow(rel, read(rel)));
}

const actions = ["action.yml", "setup/action.yml", "setup/post/action.yml",
  ...fs.readdirSync(path.join(root, "examples"), { withFileTypes: true })
    .filter(d => d.isDirectory() && fs.existsSync(path.join(root, "examples", d.name, "action.yml")))
    .map(d => `examples/${d.name}/action.yml`).sort(),
  ...process.argv.slice(2)];
for (const rel of actions) {
  report("action", rel, at(rel), await checkAction(rel, read(rel)));
}

for (const s of readmeSnippets(read("README.md"))) {
  const label = `README.md:${s.fenceLine} (yaml block)`;
  if (s.skip) {
    console.log(`skip  ${label}: marked not a GitHub workflow`);
    continue;
  }
  const w = wrapSnippet(s.lines);
  if (w.error) {
    report("workflow", label, () => `README.md:${s.fenceLine}`, [{ message: `${w.error}; if it is not meant for GitHub Actions, put the line ${skipMarker} above its fence` }]);
    continue;
  }
  const list = await checkWorkflow("README.md", w.text);
  // A line of the wrapper (before or after the snippet) maps to the fence.
  const where = p => {
    const n = p.line - w.head;
    return p.line && n >= 1 && n <= s.lines.length ? `README.md:${s.fenceLine + n}:${p.col - w.shift}` : `README.md:${s.fenceLine} (the wrapper)`;
  };
  report("workflow", `${label}: ${w.kind}`, where, list, [
    `(a block not meant for GitHub Actions needs the line ${skipMarker} above its fence)`,
    "checked as:", ...w.text.trimEnd().split("\n").map(l => `| ${l}`)]);
}

console.log(`gh-parser: ${checked} checked, ${failed} failed`);
process.exit(failed ? 1 : 0);
