import fc from 'fast-check';
import { COURSE_ID_PATTERN, SERVER_NAME_MAX, SERVER_NAME_PATTERN, StackNames, courseServerName } from '../../constructs';

/** Course ids as the schema accepts them: a letter, then letters/digits with single "-" or "_" between. */
const courseId = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
    fc.array(fc.tuple(fc.constantFrom('', '', '', '-', '_'), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789')), { minLength: 1, maxLength: 31 }),
  )
  .map(([first, rest]) => first + rest.map(([sep, ch]) => sep + ch).join(''))
  .filter((id) => new RegExp(COURSE_ID_PATTERN).test(id));

describe('course server names (JupyterHub 6 safe slugs, one place)', () => {
  test('every course id gives a valid server name of at most 30 characters', () => {
    fc.assert(
      fc.property(courseId, (id) => {
        const name = courseServerName(id);
        expect(name).toMatch(new RegExp(SERVER_NAME_PATTERN));
        expect(name.length).toBeLessThanOrEqual(SERVER_NAME_MAX);
      }),
      { seed: 20261129, numRuns: 2000 },
    );
  });

  test('two course ids never share a server name', () => {
    fc.assert(
      fc.property(courseId, courseId, (a, b) => a === b || courseServerName(a) !== courseServerName(b)),
      { seed: 20261129, numRuns: 2000 },
    );
    // The cases a plain replacement would merge.
    expect(new Set(['data-lab', 'data_lab', 'data-lab-2', 'data_lab_2'].map(courseServerName)).size).toBe(4);
    expect(courseServerName('intro101')).toBe('intro101');
    expect(courseServerName('a'.repeat(32))).toMatch(/^a{23}-[0-9a-f]{6}$/);
  });

  test('container and volume names separate user and server by "--" (escaped names never contain it)', () => {
    const names = new StackNames('e2e');
    expect(names.userServerTemplate).toBe('jhlti-e2e-nb-{username}--{servername}');
    expect(names.homeVolumeTemplate).toBe('jhlti-e2e-home-{username}--{servername}');
    expect(names.userServerTemplate.startsWith(names.userServerPrefix)).toBe(true);
    expect(names.legacyHomeVolumeTemplate.startsWith(names.homeVolumePrefix)).toBe(true);
  });
});
