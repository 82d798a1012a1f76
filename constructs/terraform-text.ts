/**
 * Where text from the config enters Terraform. Terraform reads every string of the synthesized
 * JSON as a template, cdktf scans every string for its token markers (`${TfToken[...]}`,
 * `#{...}`, `&{...}`), and both Terraform and OpenTofu normalize strings to Unicode NFC. So a
 * `${...}` or `%{...}` in a course title or an LMS context id would be evaluated at plan time on
 * the operator's machine, a marker would crash the synth, and a decomposed "é" in a context id
 * would reach the hub composed and never match the LMS again.
 *
 * Free text from the config reaches Terraform only inside stack.json, and stack.json is
 * serialized here as pure printable ASCII: `$`, `%`, `#`, `&` and every non-ASCII character are
 * JSON unicode escapes. The file means exactly the same to the hub's JSON parser, and Terraform
 * and cdktf see nothing they would interpret or normalize. Every other config value that
 * reaches Terraform is constrained by the schema to characters that cannot do harm (names,
 * image references, hostnames; paths and backend values by `plainPath` in config/schema.ts).
 */

/** JSON text that Terraform and cdktf take literally (see above). */
export function terraformSafeJson(value: unknown): string {
  const json = JSON.stringify(value, null, 2).replace(/[$%#&\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${json}\n`;
}

/** cdktf's string-map sentinels: a value equal to one of them is replaced at synth. */
const CDKTF_SENTINELS = new Set(['String Map Token Value', 'Any Map Token Value']);

/** True when Terraform or cdktf could read `text` as a template sequence or a token. */
export function hasTemplateSequence(text: string): boolean {
  return /[$%#&]\{/.test(text) || CDKTF_SENTINELS.has(text.trim());
}
