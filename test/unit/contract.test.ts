import { readFileSync } from 'node:fs';
import { CONTRACT_VERSION, StackFileSchema } from '../../constructs';
import { goldenStackFiles } from '../fixtures/contract/render';
import { load, resources, synthConfig } from './helpers';

describe('golden stack.json fixtures (also read by the hub tier)', () => {
  const goldens = goldenStackFiles();

  test.each([...goldens].map(([file, text]) => [file.split('/').pop(), file, text] as const))('%s is current (npm run generate)', (_name, file, text) => {
    expect(readFileSync(file, 'utf8')).toBe(text);
    const doc = StackFileSchema.parse(JSON.parse(text));
    expect(doc.schema_version).toBe(CONTRACT_VERSION);
  });

  test('config text reaches the hub verbatim and Terraform never sees a template in it', () => {
    const { json } = synthConfig(load('contract.yaml'));
    const hub = Object.values(resources(json.hubtest, 'docker_container')).find((c) => c.name === 'jhlti-hubtest-hub');
    const upload = hub.upload.find((u: { file: string }) => u.file === '/srv/jupyterhub/stack.json');
    expect(upload.content).not.toMatch(/[$%]\{/);
    const doc = JSON.parse(upload.content);
    expect(doc.courses[0].title).toBe('Introduction ${file("/etc/passwd")} %{ if true }x%{ endif } "quoted" \\ 100% – ✓');
    expect(doc.courses[1].context_ids).toContain('${var.context}');
  });
});
