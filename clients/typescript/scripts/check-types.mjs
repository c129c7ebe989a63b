// Fails when the types openapi-typescript generated from docs/openapi.json leave any request
// or response body (or a part of one) without a shape: `Record<string, never>` (an object
// with no fields) or `unknown`. Allowed: the file's own empty `webhooks`/`$defs` and the
// header index signatures (`[name: string]: unknown`) openapi-typescript gives every response.
//
//   node scripts/check-types.mjs [src/generated/raptor.d.ts]

import { readFileSync } from "node:fs";

const file = process.argv[2] ?? "src/generated/raptor.d.ts";
const lines = readFileSync(file, "utf8").split("\n");
const allowed = [
  /^export type (webhooks|\$defs) = Record<string, never>;$/,
  /^\[name: string\]: unknown;$/,
];
const untyped = /Record<string, never>|\bunknown\b/;

// The path of names leading to a line, from the indentation of the lines above it.
function context(index) {
  const names = [];
  let indent = lines[index].search(/\S/);
  for (let i = index - 1; i >= 0 && indent > 0; i--) {
    const line = lines[i];
    const at = line.search(/\S/);
    if (at >= 0 && at < indent) {
      const name = line.trim().match(/^"?([^":?]+)"?\??:/);
      if (name) names.unshift(name[1]);
      indent = at;
    }
  }
  return names.join(" › ");
}

const problems = [];
lines.forEach((raw, index) => {
  const line = raw.trim();
  if (line.startsWith("*") || line.startsWith("/*") || line.startsWith("//")) return;
  if (!untyped.test(line) || allowed.some((ok) => ok.test(line))) return;
  problems.push(`${file}:${index + 1}: ${context(index)} › ${line}`);
});

if (problems.length > 0) {
  console.error(
    `check-types: ${problems.length} untyped part(s) of a body; describe them in the OpenAPI ` +
      `document (docs/clients.md):\n${problems.join("\n")}`,
  );
  process.exit(1);
}
console.log(`check-types: every body in ${file} has a shape`);
