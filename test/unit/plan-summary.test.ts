import { renderMarkdown, renderText, summarizePlan, PlanJson } from '../../bin/plan-summary';

const rc = (address: string, actions: string[], before: unknown = null, after: unknown = null) => {
  const [type, name] = address.split('.');
  return { address, type, name, mode: 'managed', change: { actions, before, after } };
};

describe('plan summaries', () => {
  test('no change: empty summary, exit 0', () => {
    const plan: PlanJson = { resource_changes: [rc('docker_container.hub_container_8AE3F64A', ['no-op'])] };
    const s = summarizePlan('e2e', plan);
    expect(s).toEqual({ environment: 'e2e', changes: [], dataLoss: false, exitCode: 0 });
    expect(renderText(s)).toBe('e2e: no changes.\n');
    expect(renderMarkdown(s)).toContain('no changes');
  });

  test('a course added: its resources under the course, the hub restart under the environment, exit 2', () => {
    const s = summarizePlan('e2e', {
      resource_changes: [
        rc('docker_volume.course-chem101_volume_8E58F412', ['create']),
        rc('docker_image.course-chem101_notebook-image_B49A6594', ['create']),
        rc('docker_container.course-chem101_grader_2749E53A', ['create']),
        rc('random_bytes.secrets_service-token-chem101_E5D60116', ['create']),
        rc('docker_container.hub_container_8AE3F64A', ['delete', 'create'], { env: ['A=1'], image: 'x' }, { env: ['A=2'], image: 'x' }),
      ],
    });
    expect(s.exitCode).toBe(2);
    expect(s.dataLoss).toBe(false);
    expect(s.changes.map((c) => [c.scope, c.action, c.component, c.severity])).toEqual([
      ['environment', 'replace', 'hub', 'disruptive'],
      ['environment', 'create', 'service token', 'info'],
      ['course chem101', 'create', 'grader (formgrader)', 'info'],
      ['course chem101', 'create', 'notebook image', 'info'],
      ['course chem101', 'create', 'course volume', 'info'],
    ]);
    expect(s.changes[0].impact).toMatch(/running servers and open notebooks are kept/);
  });

  test('a course removed: its volume is data loss, exit 3, loudly in every rendering', () => {
    const s = summarizePlan('e2e', {
      resource_changes: [
        rc('docker_volume.course-physics_volume_5ED32465', ['delete'], { name: 'jhlti-e2e-course-physics' }, null),
        rc('docker_container.course-physics_grader_093B1716', ['delete']),
      ],
    });
    expect(s.exitCode).toBe(3);
    expect(s.dataLoss).toBe(true);
    expect(s.changes[0]).toMatchObject({ scope: 'course physics', severity: 'data-loss', action: 'delete' });
    expect(s.changes[0].impact).toMatch(/^DATA LOSS: the course's volume is deleted: its nbgrader source, releases, gradebook/);
    expect(renderText(s)).toMatch(/DATA WOULD BE LOST/);
    expect(renderMarkdown(s)).toMatch(/Data would be lost.*--allow-data-loss/);
  });

  test('the LTI 1.1 secret rotated: which LMS values to update; no value printed', () => {
    const s = summarizePlan('e2e', {
      resource_changes: [
        rc('random_bytes.secrets_lti11-shared-secret_9FC02C9F', ['delete', 'create'], { hex: 'c0ffee00secret' }, { hex: null }),
      ],
    });
    expect(s.changes).toHaveLength(1);
    expect(s.changes[0]).toMatchObject({ component: 'LTI 1.1 shared secret', action: 'replace', severity: 'disruptive', attributes: [] });
    expect(s.changes[0].impact).toMatch(/rotated: LTI 1.1 launches fail until every LMS registration has the new lti11_shared_secret/);
    for (const text of [renderText(s), renderMarkdown(s), JSON.stringify(s)]) expect(text).not.toContain('c0ffee00secret');
  });

  test('an image rebuilt waits for the next server start; an update names its attributes only', () => {
    const s = summarizePlan('e2e', {
      resource_changes: [
        rc('docker_image.course-algebra_notebook-image_9B535B46', ['delete', 'create']),
        rc('docker_container.proxy_container_8256F9BB', ['update'], { memory: 100, labels: [] }, { memory: 200, labels: [] }),
      ],
    });
    const image = s.changes.find((c) => c.component === 'notebook image');
    expect(image?.impact).toMatch(/next server start; running servers keep theirs/);
    expect(image?.severity).toBe('info');
    const proxy = s.changes.find((c) => c.component === 'proxy');
    expect(proxy).toMatchObject({ action: 'update', attributes: ['memory'], severity: 'info' });
    expect(proxy?.impact).toMatch(/while it runs .* no restart/);
    expect(renderText(s)).not.toContain('200');
  });

  test('engine swarm: a course added, its service token a new Docker secret of the hub; no volume, so no data loss', () => {
    const s = summarizePlan('cluster', {
      resource_changes: [
        rc('docker_image.course-chem_notebook-image_build_image_1', ['create']),
        rc('docker_registry_image.course-chem_notebook-image_push_2', ['create']),
        rc('docker_service.course-chem_grader_3', ['create']),
        rc('random_bytes.secrets_service-token-chem_4', ['create']),
        rc('docker_secret.hub_secret-service-token-chem_5', ['create']),
        rc('docker_config.hub_stack-file_6', ['create', 'delete']),
        rc('docker_service.hub_service_7', ['update'], { task_spec: [1] }, { task_spec: [2] }),
        rc('docker_service.proxy_service_8', ['no-op']),
      ],
    });
    expect(s.exitCode).toBe(2);
    expect(s.changes.map((c) => [c.scope, c.action, c.component, c.severity])).toEqual([
      ['environment', 'replace', 'hub configuration', 'disruptive'],
      ['environment', 'update', 'hub', 'disruptive'],
      ['environment', 'create', 'hub secret', 'info'],
      ['environment', 'create', 'service token', 'info'],
      ['course chem', 'create', 'notebook image', 'info'],
      ['course chem', 'create', 'notebook image', 'info'],
      ['course chem', 'create', 'grader (formgrader)', 'info'],
    ]);
  });
});
