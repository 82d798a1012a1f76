import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { CONTRACT_DOC, README_FILE, generatedFiles, renderedContractDoc, renderedReadme } from '../../constructs/generate';
import { REPO } from './helpers';

describe('generated files are current (run `npm run generate` after changing the schema or the contract)', () => {
  test.each([...generatedFiles()].map(([file, content]) => [relative(REPO, file), file, content] as const))('%s', (_name, file, content) => {
    expect(readFileSync(file, 'utf8')).toBe(content);
  });
  test('README config reference', () => {
    const readme = readFileSync(README_FILE, 'utf8');
    expect(readme).toBe(renderedReadme(readme));
  });
  test('images/CONTRACT.md contract values', () => {
    const doc = readFileSync(CONTRACT_DOC, 'utf8');
    expect(doc).toBe(renderedContractDoc(doc));
  });
});
