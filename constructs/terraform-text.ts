/**
 * Where text from the config enters Terraform. Terraform reads every string of the synthesized
 * JSON as a template (and cdktf rewrites `$${` on the way), so a `${...}` or `%{...}` in a course
 * title or an LMS context id would be evaluated at plan time on the operator's machine.
 *
 * Free text from the config reaches Terraform only inside stack.json, and stack.json is
 * serialized here with every `$` and `%` written as a JSON unicode escape: the file means the same
 * to the hub's JSON parser, and Terraform sees no template sequence at all. Every other config
 * value that reaches Terraform is constrained by the schema to characters that cannot form one
 * (names, image references, hostnames, paths; see `TEMPLATE_FREE` in config/schema.ts).
 */

/** JSON text that Terraform takes literally: `$` and `%` as `\u0024` and `\u0025`. */
export function terraformSafeJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2).replace(/\$/g, '\\u0024').replace(/%/g, '\\u0025')}\n`;
}

/** True when Terraform (or cdktf) could read `text` as a template sequence. */
export function hasTemplateSequence(text: string): boolean {
  return /[$%]\{/.test(text);
}
