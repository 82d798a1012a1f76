import { readFileSync } from 'node:fs';
import { README_FILE, renderedReadme, renderedSchema, SCHEMA_FILE } from '../../constructs/config/write-docs';

describe('generated documentation is current (run `npm run docs` after changing the schema)', () => {
  test('config.schema.json', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderedSchema());
  });
  test('README config reference', () => {
    const readme = readFileSync(README_FILE, 'utf8');
    expect(readme).toBe(renderedReadme(readme));
  });
});
