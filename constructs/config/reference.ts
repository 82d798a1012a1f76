/**
 * Documentation generated from the schema, so the JSON Schema for editors and the README's
 * config reference can never drift from what the code accepts (`npm run generate` writes both;
 * a unit test fails when either is stale).
 */
import { z } from 'zod';
import { ConfigSchema } from './schema';

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  items?: JsonSchemaNode;
  oneOf?: JsonSchemaNode[];
  anyOf?: JsonSchemaNode[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://jupyterhub-lti-stack.invalid/config.schema.json', title: 'jupyterhub-lti-stack configuration' };
}

/** A Markdown table: one row per key, with its type, default and description. */
export function configReferenceMarkdown(): string {
  const rows: string[] = ['| key | type | default | description |', '|---|---|---|---|'];
  walk(configJsonSchema() as JsonSchemaNode, '', rows, false);
  return rows.join('\n');
}

function walk(node: JsonSchemaNode, path: string, rows: string[], required: boolean): void {
  const variants = node.oneOf ?? node.anyOf;
  if (path !== '') rows.push(row(node, path, required));
  if (variants !== undefined) {
    for (const v of variants) {
      const tag = Object.entries(v.properties ?? {}).find(([, p]) => p.const !== undefined);
      for (const [key, child] of Object.entries(v.properties ?? {})) {
        if (child.const !== undefined) continue;
        const label = tag ? `${path}.${key} (${tag[0]}: ${JSON.stringify(tag[1].const)})` : `${path}.${key}`;
        walk(child, label, rows, (v.required ?? []).includes(key));
      }
    }
    return;
  }
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) walk(child, path === '' ? key : `${path}.${key}`, rows, (node.required ?? []).includes(key));
  } else if (node.items?.properties) {
    for (const [key, child] of Object.entries(node.items.properties)) walk(child, `${path}[].${key}`, rows, (node.items.required ?? []).includes(key));
  }
}

function row(node: JsonSchemaNode, path: string, required: boolean): string {
  const variants = node.oneOf ?? node.anyOf;
  let type = Array.isArray(node.type) ? node.type.join(' \\| ') : node.type ?? (variants ? 'object' : '');
  if (node.enum) type = node.enum.map((e) => JSON.stringify(e)).join(' \\| ');
  if (variants) {
    const tags = variants.flatMap((v) => Object.entries(v.properties ?? {}).filter(([, p]) => p.const !== undefined).map(([k, p]) => `${k}: ${JSON.stringify(p.const)}`));
    if (tags.length) type = `one of ${tags.join(', ')}`;
  }
  if (node.type === 'array' && node.items) type = `array of ${node.items.enum ? node.items.enum.map((e) => JSON.stringify(e)).join(' \\| ') : node.items.type ?? 'object'}`;
  const range = node.minimum !== undefined || node.maximum !== undefined ? ` (${node.minimum ?? ''}..${node.maximum ?? ''})` : '';
  const def = required ? '**required**' : node.default === undefined ? '' : `\`${JSON.stringify(node.default)}\``;
  const description = (node.description ?? '').replace(/\|/g, '\\|');
  return `| \`${path}\` | ${type}${range} | ${def.length > 60 ? '(object, see below)' : def} | ${description} |`;
}
