import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, UsageError } from '../../bin/jupyterhub-lti-stack';
import { chooseVersions, FilledForm, formEnvironment, FormError, LMS_NAMES, lmsForms, LTI_VERSIONS, MASKED, renderForms, TerraformOutputs } from '../../bin/lms-forms';
import { ResolvedConfig } from '../../constructs';
import { Json, load, REPO, synthConfig } from './helpers';

/**
 * What `terraform output -json` would give for a synthesized environment: its real output
 * names, URLs as synthesized, and a recognizable stand-in for each value Terraform computes
 * (secrets, the certificate).
 */
function outputsOf(stack: Json): TerraformOutputs {
  return Object.fromEntries(
    Object.entries(stack.output as Record<string, { value: string; sensitive?: boolean }>).map(([name, o]) => [
      name,
      { value: o.value.startsWith('${') ? `computed-${name}` : o.value, sensitive: o.sensitive === true },
    ]),
  );
}

function fixture(file: string | undefined): { config: ResolvedConfig; outputs: Record<string, TerraformOutputs> } {
  const config = load(file);
  const { json } = synthConfig(config);
  return { config, outputs: Object.fromEntries(Object.entries(json).map(([env, stack]) => [env, outputsOf(stack)])) };
}

const hubtest = fixture('contract.yaml'); // LTI 1.1 and 1.3, grade passback on
const three = fixture('three-courses.yaml'); // physics: both versions; chem: LTI 1.3 only, iframe
const demo = fixture(undefined); // LTI 1.1 only
const hubtestEnv = formEnvironment(hubtest.config, 'hubtest', 'contract.yaml');
const fields = (form: FilledForm) => form.sections.flatMap((s) => s.fields);

describe('registration forms (outputs <env> --lms)', () => {
  test.each(LMS_NAMES)('%s: every value from an output is that output, and only real outputs are named', (lms) => {
    const outputs = hubtest.outputs.hubtest;
    const forms = lmsForms(lms, hubtestEnv, outputs, { showSecrets: true });
    expect(forms.map((f) => f.lti)).toEqual(lms === 'openhpi' ? ['1.1'] : ['1.1', '1.3']);
    for (const field of forms.flatMap(fields).filter((f) => f.kind === 'output')) {
      for (const name of field.outputs) {
        expect(Object.keys(outputs)).toContain(name);
        expect(field.value).toContain(outputs[name].value as string);
      }
    }
  });

  test('the LMS labels and the outputs behind them', () => {
    const byLabel = (lms: (typeof LMS_NAMES)[number], lti: '1.1' | '1.3') =>
      Object.fromEntries(fields(lmsForms(lms, hubtestEnv, hubtest.outputs.hubtest, { lti, showSecrets: true })[0]).map((f) => [f.label, f.kind === 'output' ? f.outputs.join('+') : f.value]));
    expect(byLabel('moodle', '1.3')).toMatchObject({
      'Tool URL': 'lti13_redirect_url',
      'LTI version': 'LTI 1.3',
      'Public key type': 'Keyset URL',
      'Public keyset': 'lti13_jwks_url',
      'Initiate login URL': 'lti13_login_initiation_url',
      'Redirection URI(s)': 'lti13_redirect_url',
      'IMS LTI Assignment and Grade Services': 'Use this service for grade sync and column management',
      'Accept grades from the tool': 'Always',
      "Share launcher's name with tool": 'Never',
    });
    expect(byLabel('moodle', '1.1')).toMatchObject({ 'Tool URL': 'lti11_launch_url', 'LTI version': 'LTI 1.0/1.1', 'Consumer key': 'lti11_consumer_key', 'Shared secret': 'lti11_shared_secret' });
    expect(byLabel('canvas', '1.1')).toMatchObject({ 'Configuration Type': 'By URL', 'Consumer Key': 'lti11_consumer_key', 'Shared Secret': 'lti11_shared_secret', 'Config URL': 'lti11_config_xml_url' });
    expect(byLabel('canvas', '1.3')).toMatchObject({ 'Redirect URIs': 'lti13_redirect_url', Method: 'Enter URL', 'JSON URL': 'lti13_config_url', 'Configuration Type': 'By Client ID' });
    expect(byLabel('openedx', '1.1')).toMatchObject({ 'LTI Passports': 'lti11_consumer_key+lti11_shared_secret', 'LTI URL': 'lti11_launch_url', 'LTI Version': 'LTI 1.1/1.2' });
    expect(byLabel('openedx', '1.3')).toMatchObject({
      'Tool Launch URL': 'lti13_redirect_url',
      'Tool Initiate Login URL': 'lti13_login_initiation_url',
      'Tool Public Key Mode': 'Keyset URL',
      'Tool Keyset URL': 'lti13_jwks_url',
      'LTI Assignment and Grades Service': 'Allow tools to manage and submit grade (programmatic)',
    });
    expect(byLabel('openhpi', '1.1')).toMatchObject({ 'Launch URL': 'lti11_launch_url', 'OAuth consumer key': 'lti11_consumer_key', 'OAuth secret': 'lti11_shared_secret', Privacy: 'pseudonymized' });
  });

  test('composite values: the Open edX passport id:key:secret and the redirect URI list', () => {
    const outputs = hubtest.outputs.hubtest;
    const [lti11, lti13] = lmsForms('openedx', hubtestEnv, outputs, { showSecrets: true });
    const value = (form: FilledForm, label: string) => fields(form).find((f) => f.label === label)?.value;
    expect(value(lti11, 'LTI Passports')).toBe(`"jupyterhub:${outputs.lti11_consumer_key.value}:${outputs.lti11_shared_secret.value}"`);
    expect(value(lti11, 'LTI ID')).toBe('jupyterhub');
    expect(value(lti13, 'Registered Redirect URIs')).toBe(JSON.stringify([outputs.lti13_redirect_url.value]));
  });

  test('secrets are masked unless --show-secrets, in the form and in its text', () => {
    const outputs = hubtest.outputs.hubtest;
    const secrets = Object.values(outputs).filter((o) => o.sensitive).map((o) => o.value as string);
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    for (const lms of LMS_NAMES) {
      const masked = lmsForms(lms, hubtestEnv, outputs, { showSecrets: false });
      const text = renderForms(masked, hubtestEnv) + JSON.stringify(masked);
      for (const secret of secrets) expect(text).not.toContain(secret);
      const secretFields = masked.flatMap(fields).filter((f) => f.secret);
      expect(secretFields.length).toBeGreaterThan(0);
      expect(secretFields.every((f) => f.value === MASKED)).toBe(true);
      const shown = renderForms(lmsForms(lms, hubtestEnv, outputs, { showSecrets: true }), hubtestEnv);
      expect(secrets.some((s) => shown.includes(s))).toBe(true);
    }
  });

  test('the values going back into the config: field paths and what the config holds now', () => {
    const [lti13] = lmsForms('moodle', hubtestEnv, hubtest.outputs.hubtest, { lti: '1.3', showSecrets: false });
    expect(lti13.back.map((b) => [b.label, b.field, b.current])).toEqual([
      ['Platform ID', 'environments[0].lti13.issuer', 'https://lms.example.org'],
      ['Client ID', 'environments[0].lti13.clientIds', 'jhlti-client-1'],
      ['Deployment ID', 'environments[0].lti13.deploymentIds', 'deployment-1'],
      ['Public keyset URL', 'environments[0].lti13.jwksUrl', 'https://lms.example.org/jwks'],
      ['Access token URL', 'environments[0].lti13.tokenUrl', 'https://lms.example.org/token'],
      ['Authentication request URL', 'environments[0].lti13.authorizeUrl', 'https://lms.example.org/auth'],
      ['context id of each course', 'environments[0].courses[].contexts', expect.stringContaining('data201: ctx-data201, course-v1:edX+Data+2026')],
    ]);
    const chem = formEnvironment(three.config, 'chem', 'three-courses.yaml');
    const [canvas] = lmsForms('canvas', chem, three.outputs.chem, { showSecrets: false });
    expect(canvas.back.find((b) => b.field.endsWith('deploymentIds'))).toMatchObject({ field: 'environments[1].lti13.deploymentIds', current: '(none: any deployment)' });
    expect(canvas.back.find((b) => b.field.endsWith('tokenUrl'))?.current).toMatch(/not set/);
  });

  test('follows the config: no grade service without grade passback, embedded launches in iframe mode', () => {
    const chem = formEnvironment(three.config, 'chem', 'three-courses.yaml');
    const [moodle] = lmsForms('moodle', chem, three.outputs.chem, { showSecrets: false });
    const value = (label: string) => fields(moodle).find((f) => f.label === label)?.value;
    expect(value('IMS LTI Assignment and Grade Services')).toBe('Do not use this service');
    expect(value('Accept grades from the tool')).toBe('Never');
    // The roster (NRPS) only where a course is pre-warmed: chem has none, hubtest's intro101 has.
    expect(value('IMS LTI Names and Role Provisioning')).toBe('Do not use this service');
    const hubtestMoodle = fields(lmsForms('moodle', hubtestEnv, hubtest.outputs.hubtest, { lti: '1.3', showSecrets: false })[0]);
    expect(hubtestMoodle.find((f) => f.label === 'IMS LTI Names and Role Provisioning')?.value)
      .toBe("Use this service to retrieve members' information as per privacy settings");
    const hubtestEdx = fields(lmsForms('openedx', hubtestEnv, hubtest.outputs.hubtest, { lti: '1.3', showSecrets: false })[0]);
    expect(hubtestEdx.find((f) => f.label === 'Enable LTI NRPS')?.value).toBe('True');
    expect(value('Default launch container')).toBe('Embed, without blocks');
    const [edx] = lmsForms('openedx', chem, three.outputs.chem, { showSecrets: false });
    expect(fields(edx).find((f) => f.label === 'LTI Launch Target')?.value).toBe('Inline');
    // LTI 1.1 grades: each graded link names its assignment, only where a course sends grades.
    const physics = formEnvironment(three.config, 'physics', 'three-courses.yaml');
    const custom = (env: typeof physics, outputs: TerraformOutputs, lms: 'moodle' | 'openedx') =>
      fields(lmsForms(lms, env, outputs, { lti: '1.1', showSecrets: false })[0]).filter((f) => /^Custom parameters$/i.test(f.label)).map((f) => f.value);
    expect(custom(hubtestEnv, hubtest.outputs.hubtest, 'moodle')).toEqual(['assignment=<nbgrader assignment>']);
    expect(custom(hubtestEnv, hubtest.outputs.hubtest, 'openedx')).toEqual(['["assignment=<nbgrader assignment>"]']);
    expect(custom(physics, three.outputs.physics, 'moodle')).toEqual([]);
    expect(custom(physics, three.outputs.physics, 'openedx')).toEqual([]);
  });

  test('text: one line per field, the LMS label then the value; the guide is named', () => {
    const forms = lmsForms('canvas', hubtestEnv, hubtest.outputs.hubtest, { lti: '1.3', showSecrets: false });
    const text = renderForms(forms, hubtestEnv);
    for (const f of forms.flatMap(fields)) {
      expect(text).toMatch(new RegExp(`^ {4}${escape(f.label)} {2,}${escape(f.value)}$`, 'm'));
    }
    for (const b of forms[0].back) expect(text).toContain(`-> ${b.field}  (now: ${b.current})`);
    expect(text).toContain('Canvas, LTI 1.3: environment "hubtest" (guide: docs/lms/canvas.md)');
    expect(text).toContain('[Admin > (account) > Developer Keys > + Developer Key > + LTI Key]');
  });

  test('a form fails, naming the output, when the environment lacks it (not deployed yet)', () => {
    const { lti13_jwks_url: _gone, ...rest } = hubtest.outputs.hubtest;
    expect(() => lmsForms('moodle', hubtestEnv, rest, { lti: '1.3', showSecrets: false })).toThrow(/environment "hubtest" has no output lti13_jwks_url: deploy it/);
  });
});

describe('choosing the LTI version', () => {
  const demoEnv = formEnvironment(demo.config, 'demo', 'embedded demo config');
  const chem = formEnvironment(three.config, 'chem', 'three-courses.yaml');

  test('default: every version the environment enables and the LMS takes', () => {
    expect(chooseVersions('moodle', hubtestEnv)).toEqual(['1.1', '1.3']);
    expect(chooseVersions('moodle', demoEnv)).toEqual(['1.1']);
    expect(chooseVersions('canvas', chem)).toEqual(['1.3']);
    expect(chooseVersions('openhpi', hubtestEnv)).toEqual(['1.1']);
    expect(chooseVersions('openedx', hubtestEnv, '1.3')).toEqual(['1.3']);
  });

  const envs = { demo: demoEnv, chem, hubtest: hubtestEnv };
  test.each([
    ['moodle', 'demo', '1.3', /--lti 1\.3: environment "demo" gives LTI 1\.3 to its demo launcher \(environments\[0\]\.demoLauncher\.enabled is true; turn it off to register an LMS over LTI 1\.3; for an LMS it enables: 1\.1\)/],
    ['canvas', 'chem', '1.1', /--lti 1\.1: environment "chem" does not enable LTI 1\.1 \(environments\[1\]\.lti11\.enabled is false; it enables: 1\.3\)/],
    ['openhpi', 'hubtest', '1.3', /--lti 1\.3: openHPI registers LTI 1\.1 tools only \(choices with --lms openhpi: 1\.1\)/],
    ['openhpi', 'chem', undefined, /--lms openhpi: openHPI registers LTI 1\.1 tools, and environment "chem" enables LTI 1\.3 only/],
  ] as const)('--lms %s for environment %s with --lti %s is refused', (lms, name, lti, message) => {
    expect(() => chooseVersions(lms, envs[name], lti)).toThrow(FormError);
    expect(() => chooseVersions(lms, envs[name], lti)).toThrow(message);
  });

  test('an environment not in the config is named with the ones that are', () => {
    expect(() => formEnvironment(three.config, 'bio', 'three-courses.yaml')).toThrow('environment "bio" is not in three-courses.yaml (its environments: physics, chem)');
  });
});

describe('outputs --lms / --lti arguments', () => {
  test('accepted', () => {
    expect(parseArgs(['outputs', 'demo', '--lms', 'moodle'], {})).toMatchObject({ command: 'outputs', lms: 'moodle', lti: undefined });
    expect(parseArgs(['outputs', 'demo', '--lms', 'canvas', '--lti', '1.3', '--show-secrets', '--json'], {})).toMatchObject({ lms: 'canvas', lti: '1.3', showSecrets: true, json: true });
  });

  test.each([
    [['outputs', 'demo', '--lms', 'blackboard'], '--lms must be one of moodle, canvas, openedx, openhpi (got "blackboard")'],
    [['outputs', 'demo', '--lms', 'moodle', '--lti', '2.0'], '--lti must be "1.1" or "1.3" (got "2.0")'],
    [['outputs', 'demo', '--lti', '1.3'], '--lti goes with --lms'],
    [['deploy', 'demo', '--lms', 'moodle'], '--lms and --lti only go with outputs'],
    [['outputs', 'demo', '--lms'], '--lms needs a value'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseArgs(argv, {})).toThrow(UsageError);
    expect(() => parseArgs(argv, {})).toThrow(message);
  });

  test('the choices in the usage text are the ones accepted', () => {
    const usage = readFileSync(join(REPO, 'bin', 'jupyterhub-lti-stack.ts'), 'utf8');
    expect(usage).toContain(`--lms LMS          outputs: the registration form of ${LMS_NAMES.slice(0, -1).join(', ')} or ${LMS_NAMES.at(-1)}`);
    expect(usage).toContain(`--lti VERSION      outputs --lms: only LTI ${LTI_VERSIONS.join(' or ')}`);
  });
});

describe('the guides and the forms tell the same story', () => {
  test.each(LMS_NAMES)('docs/lms/%s.md names every label of its forms and the outputs they take', (lms) => {
    const guide = readFileSync(join(REPO, 'docs', 'lms', `${lms}.md`), 'utf8');
    for (const form of lmsForms(lms, hubtestEnv, hubtest.outputs.hubtest, { showSecrets: false })) {
      for (const f of fields(form)) {
        expect(guide).toContain(f.label);
        for (const o of f.outputs) expect(guide).toContain(`\`${o}\``);
        if (f.kind === 'option') expect(guide).toContain(f.value);
      }
      for (const b of form.back) {
        expect(guide).toContain(b.label);
        expect(guide).toContain(b.field.replace(/^environments\[0\]\./, ''));
      }
    }
    expect(guide).toContain(`npm run outputs -- <env> --lms ${lms}`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
