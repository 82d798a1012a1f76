/**
 * Registration forms: what to enter in one LMS's form to register one environment, under the
 * field labels that LMS uses, with values from the environment's Terraform outputs; and which of
 * the values the LMS shows back go into which field of the environment's config.
 * `outputs <env> --lms <lms>` prints them; docs/lms/<lms>.md explains every step.
 *
 * Pure functions: the CLI passes the outputs (`terraform output -json`) and the resolved config.
 */
import type { ResolvedConfig } from '../constructs/config/rules';

export const LMS_NAMES = ['moodle', 'canvas', 'openedx', 'openhpi'] as const;
export type LmsName = (typeof LMS_NAMES)[number];
export const LTI_VERSIONS = ['1.1', '1.3'] as const;
export type LtiVersion = (typeof LTI_VERSIONS)[number];

/** What `outputs` shows in place of a sensitive value without --show-secrets. */
export const MASKED = '(sensitive: add --show-secrets)';

/** A bad --lms / --lti for this environment: the message names the value and the choices. */
export class FormError extends Error {}

export function isLmsName(value: string): value is LmsName {
  return (LMS_NAMES as readonly string[]).includes(value);
}

export function isLtiVersion(value: string): value is LtiVersion {
  return (LTI_VERSIONS as readonly string[]).includes(value);
}

/** One output of `terraform output -json`. */
export interface TerraformOutput {
  readonly value: unknown;
  readonly sensitive: boolean;
}
export type TerraformOutputs = Readonly<Record<string, TerraformOutput>>;

/** What the forms need to know about an environment's config. */
export interface FormEnvironment {
  readonly name: string;
  /** Its place in the config, e.g. `environments[0]`. */
  readonly path: string;
  /** The config file, or "embedded demo config". */
  readonly source: string;
  readonly lti11: boolean;
  readonly lti13: {
    readonly enabled: boolean;
    readonly issuer?: string;
    readonly clientIds: readonly string[];
    readonly deploymentIds: readonly string[];
    readonly authorizeUrl?: string;
    readonly jwksUrl?: string;
    readonly tokenUrl?: string;
  };
  readonly embedding: 'window' | 'iframe';
  /** Its LTI 1.3 platform is its demo launcher (no LMS registers over LTI 1.3 then). */
  readonly demoLauncher: boolean;
  /** Course id -> its LMS context ids. */
  readonly contexts: Readonly<Record<string, readonly string[]>>;
  /** Some course sends its grades to the LMS (`gradePassback`). */
  readonly gradePassback: boolean;
  /** Some course is pre-warmed on a schedule (`prewarm`): the LMS's roster names its students. */
  readonly prewarm: boolean;
}

export function formEnvironment(config: ResolvedConfig, name: string, source: string): FormEnvironment {
  const index = config.environments.findIndex((e) => e.name === name);
  if (index < 0) {
    throw new FormError(`environment "${name}" is not in ${source} (its environments: ${config.environments.map((e) => e.name).join(', ')})`);
  }
  const env = config.environments[index];
  return {
    name,
    path: `environments[${index}]`,
    source,
    lti11: env.lti11.enabled,
    lti13: env.lti13,
    embedding: env.embedding.mode,
    demoLauncher: env.demoLauncher !== undefined,
    contexts: Object.fromEntries(env.courses.map((c) => [c.id, c.contexts])),
    gradePassback: env.courses.some((c) => c.gradePassback),
    prewarm: env.courses.some((c) => c.prewarm !== undefined),
  };
}

/** A value to enter: from outputs (joined by `format`), an option the LMS offers, text to type, or one the LMS gives you. */
type ValueSpec =
  | { readonly outputs: readonly string[]; readonly format?: (values: readonly string[]) => string }
  | { readonly option: string }
  | { readonly text: string }
  | { readonly fromLms: string };

interface FieldSpec {
  readonly label: string;
  readonly value: ValueSpec;
}

interface SectionSpec {
  readonly heading: string;
  /** The way there in the LMS's menus. */
  readonly where: string;
  readonly fields: readonly FieldSpec[];
  /** What to do after filling the section in. */
  readonly then?: string;
}

interface BackSpec {
  /** The value's name in the LMS (or what it is, where the LMS shows none). */
  readonly label: string;
  /** Field of the environment's config, relative to the environment. */
  readonly field: 'lti13.issuer' | 'lti13.clientIds' | 'lti13.deploymentIds' | 'lti13.jwksUrl' | 'lti13.tokenUrl' | 'lti13.authorizeUrl' | 'courses[].contexts';
  readonly hint?: string;
}

interface FormSpec {
  readonly sections: readonly SectionSpec[];
  /** Where the LMS shows the values that go back into the config. */
  readonly backFrom: string;
  readonly back: readonly BackSpec[];
}

const LMS_TITLES: Record<LmsName, string> = { moodle: 'Moodle 4.x', canvas: 'Canvas', openedx: 'Open edX (LTI consumer block)', openhpi: 'openHPI' };
const SUPPORTED: Record<LmsName, readonly LtiVersion[]> = { moodle: ['1.1', '1.3'], canvas: ['1.1', '1.3'], openedx: ['1.1', '1.3'], openhpi: ['1.1'] };

const out = (...outputs: string[]): ValueSpec => ({ outputs });
const option = (text: string): ValueSpec => ({ option: text });
const text = (value: string): ValueSpec => ({ text: value });

/** The name the hub gives itself in its configuration XML and JSON (registration.py). */
const toolName = (env: FormEnvironment): ValueSpec => text(`JupyterHub (${env.name})`);
/** LTI 1.1 grade passback: the custom parameter naming a link's nbgrader assignment. */
const ASSIGNMENT_PARAMETER = { text: 'assignment=<nbgrader assignment>' } as const;

/** Every LMS sends its course's id as the LTI context id; the hub's first launch from an undeclared course names it. */
function contextBack(how: string): BackSpec {
  return { label: 'context id of each course', field: 'courses[].contexts', hint: `${how}; a launch from a course not in the config shows it` };
}

const LTI13_BACK = (labels: Record<'issuer' | 'client' | 'deployment' | 'jwks' | 'token' | 'authorize', string>, hints: Partial<Record<keyof typeof labels, string>> = {}): BackSpec[] => [
  { label: labels.issuer, field: 'lti13.issuer', hint: hints.issuer },
  { label: labels.client, field: 'lti13.clientIds', hint: hints.client },
  { label: labels.deployment, field: 'lti13.deploymentIds', hint: hints.deployment },
  { label: labels.jwks, field: 'lti13.jwksUrl', hint: hints.jwks },
  { label: labels.token, field: 'lti13.tokenUrl', hint: hints.token },
  { label: labels.authorize, field: 'lti13.authorizeUrl', hint: hints.authorize },
];

function moodle(v: LtiVersion, env: FormEnvironment): FormSpec {
  const where = 'Site administration > Plugins > Activity modules > External tool > Manage tools > configure a tool manually';
  const toolSettings = (fields: readonly FieldSpec[]): SectionSpec => ({
    heading: 'Tool settings',
    where,
    fields: [
      { label: 'Tool name', value: toolName(env) },
      ...fields,
      { label: 'Tool configuration usage', value: option('Show as preconfigured tool when adding an external tool') },
      { label: 'Default launch container', value: option(env.embedding === 'window' ? 'New window' : 'Embed, without blocks') },
    ],
  });
  const privacy: SectionSpec = {
    heading: 'Privacy',
    where,
    fields: [
      { label: "Share launcher's name with tool", value: option('Never') },
      { label: "Share launcher's email with tool", value: option('Never') },
      { label: 'Accept grades from the tool', value: option(env.gradePassback ? 'Always' : 'Never') },
    ],
    then: 'Save changes',
  };
  const moodleCourse = contextBack("Moodle's course id, the number in the course's address (course/view.php?id=<id>)");
  if (v === '1.1') {
    // A link carries one grade: each graded activity names its nbgrader assignment.
    const graded: SectionSpec[] = env.gradePassback
      ? [{ heading: 'Each graded activity', where: 'Course > Add an activity or resource > External tool (this tool) > Show more...', fields: [{ label: 'Custom parameters', value: ASSIGNMENT_PARAMETER }] }]
      : [];
    return {
      sections: [
        toolSettings([
          { label: 'Tool URL', value: out('lti11_launch_url') },
          { label: 'LTI version', value: option('LTI 1.0/1.1') },
          { label: 'Consumer key', value: out('lti11_consumer_key') },
          { label: 'Shared secret', value: out('lti11_shared_secret') },
        ]),
        privacy,
        ...graded,
      ],
      backFrom: 'the first launch from each Moodle course',
      back: [moodleCourse],
    };
  }
  return {
    sections: [
      toolSettings([
        { label: 'Tool URL', value: out('lti13_redirect_url') },
        { label: 'LTI version', value: option('LTI 1.3') },
        { label: 'Public key type', value: option('Keyset URL') },
        { label: 'Public keyset', value: out('lti13_jwks_url') },
        { label: 'Initiate login URL', value: out('lti13_login_initiation_url') },
        { label: 'Redirection URI(s)', value: out('lti13_redirect_url') },
      ]),
      {
        heading: 'Services',
        where,
        fields: [
          { label: 'IMS LTI Assignment and Grade Services', value: option(env.gradePassback ? 'Use this service for grade sync and column management' : 'Do not use this service') },
          { label: 'IMS LTI Names and Role Provisioning', value: option(env.prewarm ? "Use this service to retrieve members' information as per privacy settings" : 'Do not use this service') },
          { label: 'Tool Settings', value: option('Do not use this service') },
        ],
      },
      privacy,
    ],
    backFrom: 'Manage tools > the tool > View configuration details',
    back: [
      ...LTI13_BACK({
        issuer: 'Platform ID',
        client: 'Client ID',
        deployment: 'Deployment ID',
        jwks: 'Public keyset URL',
        token: 'Access token URL',
        authorize: 'Authentication request URL',
      }),
      moodleCourse,
    ],
  };
}

function canvas(v: LtiVersion, env: FormEnvironment): FormSpec {
  const apps = 'Admin > (account) > Settings > Apps > View App Configurations > + App';
  const canvasCourse = contextBack('an opaque id Canvas makes per course');
  if (v === '1.1') {
    return {
      sections: [
        {
          heading: 'Add App',
          where: apps,
          fields: [
            { label: 'Configuration Type', value: option('By URL') },
            { label: 'Name', value: toolName(env) },
            { label: 'Consumer Key', value: out('lti11_consumer_key') },
            { label: 'Shared Secret', value: out('lti11_shared_secret') },
            { label: 'Config URL', value: out('lti11_config_xml_url') },
          ],
          then: 'Submit',
        },
      ],
      backFrom: 'the first launch from each Canvas course',
      back: [canvasCourse],
    };
  }
  return {
    sections: [
      {
        heading: 'Developer key',
        where: 'Admin > (account) > Developer Keys > + Developer Key > + LTI Key',
        fields: [
          { label: 'Key Name', value: toolName(env) },
          { label: 'Redirect URIs', value: out('lti13_redirect_url') },
          { label: 'Method', value: option('Enter URL') },
          { label: 'JSON URL', value: out('lti13_config_url') },
        ],
        then: 'Save, then switch the key\'s State to ON',
      },
      {
        heading: 'Add App',
        where: apps,
        fields: [
          { label: 'Configuration Type', value: option('By Client ID') },
          { label: 'Client ID', value: { fromLms: "the number in the developer key's Details column" } },
        ],
        then: 'Submit, then Install',
      },
    ],
    backFrom: "the developer key's Details column, the app's gear menu (Deployment Id), and Canvas' fixed endpoints",
    back: [
      ...LTI13_BACK(
        { issuer: 'iss', client: 'Client ID', deployment: 'Deployment Id', jwks: 'Canvas Public JWKs', token: 'token endpoint', authorize: 'OIDC Authorization end-point' },
        {
          issuer: 'https://canvas.instructure.com when Instructure hosts Canvas; self-hosted: the lti_iss of its config/security.yml',
          jwks: 'https://sso.canvaslms.com/api/lti/security/jwks when Instructure hosts Canvas; else https://<canvas>/api/lti/security/jwks',
          token: 'https://sso.canvaslms.com/login/oauth2/token when Instructure hosts Canvas; else https://<canvas>/login/oauth2/token',
          authorize: 'https://sso.canvaslms.com/api/lti/authorize_redirect when Instructure hosts Canvas; else https://<canvas>/api/lti/authorize_redirect',
        },
      ),
      canvasCourse,
    ],
  };
}

function openedx(v: LtiVersion, env: FormEnvironment): FormSpec {
  const component = 'Studio > (unit) > Add New Component > Advanced > LTI Consumer > Edit';
  const target = { label: 'LTI Launch Target', value: option(env.embedding === 'window' ? 'New Window' : 'Inline') };
  const edxCourse = contextBack('the course key, course-v1:<org>+<number>+<run>');
  if (v === '1.1') {
    return {
      sections: [
        {
          heading: 'Advanced Settings',
          where: 'Studio > (course) > Settings > Advanced Settings',
          fields: [
            { label: 'Advanced Module List', value: text('"lti_consumer"') },
            { label: 'LTI Passports', value: { outputs: ['lti11_consumer_key', 'lti11_shared_secret'], format: ([key, secret]) => `"jupyterhub:${key}:${secret}"` } },
          ],
          then: 'Save Changes',
        },
        {
          heading: 'LTI Consumer component',
          where: component,
          fields: [
            { label: 'LTI Version', value: option('LTI 1.1/1.2') },
            { label: 'LTI ID', value: text('jupyterhub') },
            { label: 'LTI URL', value: out('lti11_launch_url') },
            target,
            { label: 'Scored', value: option(env.gradePassback ? 'True' : 'False') },
            ...(env.gradePassback ? [{ label: 'Custom Parameters', value: text(`["${ASSIGNMENT_PARAMETER.text}"]`) }] : []),
          ],
          then: 'Save, then Publish',
        },
      ],
      backFrom: 'the first launch from each Open edX course',
      back: [edxCourse],
    };
  }
  return {
    sections: [
      {
        heading: 'LTI Consumer component',
        where: component,
        fields: [
          { label: 'LTI Version', value: option('LTI 1.3') },
          { label: 'Tool Launch URL', value: out('lti13_redirect_url') },
          { label: 'Tool Initiate Login URL', value: out('lti13_login_initiation_url') },
          { label: 'Registered Redirect URIs', value: { outputs: ['lti13_redirect_url'], format: ([uri]) => JSON.stringify([uri]) } },
          { label: 'Tool Public Key Mode', value: option('Keyset URL') },
          { label: 'Tool Keyset URL', value: out('lti13_jwks_url') },
          { label: 'LTI Assignment and Grades Service', value: option(env.gradePassback ? 'Allow tools to manage and submit grade (programmatic)' : 'Disabled') },
          { label: 'Enable LTI NRPS', value: option(env.prewarm ? 'True' : 'False') },
          { label: 'Deep linking', value: option('False') },
          target,
        ],
        then: 'Save, then Publish',
      },
    ],
    backFrom: "the component's preview in Studio, once saved",
    back: [
      ...LTI13_BACK(
        { issuer: 'issuer (not shown)', client: 'Client', deployment: 'Deployment ID', jwks: 'Keyset URL', token: 'OAuth Token URL', authorize: 'OIDC Callback URL' },
        { issuer: "the LMS's base URL, https://<lms>" },
      ),
      edxCourse,
    ],
  };
}

function openhpi(_v: LtiVersion, env: FormEnvironment): FormSpec {
  return {
    sections: [
      {
        heading: 'LTI provider',
        where: 'course administration > LTI providers > add',
        fields: [
          { label: 'Name', value: toolName(env) },
          { label: 'Launch URL', value: out('lti11_launch_url') },
          { label: 'OAuth consumer key', value: out('lti11_consumer_key') },
          { label: 'OAuth secret', value: out('lti11_shared_secret') },
          { label: 'Presentation mode', value: option(env.embedding === 'window' ? 'window' : 'frame') },
          { label: 'Privacy', value: option('pseudonymized') },
        ],
      },
    ],
    backFrom: 'the first launch from each openHPI course',
    back: [contextBack("openHPI's course id (a UUID)")],
  };
}

const FORMS: Record<LmsName, (v: LtiVersion, env: FormEnvironment) => FormSpec> = { moodle, canvas, openedx, openhpi };

/** The LTI versions to print: the one asked for, else every one the environment enables and the LMS takes. */
export function chooseVersions(lms: LmsName, env: FormEnvironment, requested?: LtiVersion): LtiVersion[] {
  const supported = SUPPORTED[lms];
  const enabled = LTI_VERSIONS.filter((v) => (v === '1.1' ? env.lti11 : env.lti13.enabled && !env.demoLauncher));
  const list = (vs: readonly LtiVersion[]) => (vs.length === 0 ? 'none' : vs.join(', '));
  if (requested !== undefined) {
    if (!supported.includes(requested)) {
      throw new FormError(`--lti ${requested}: ${LMS_TITLES[lms]} registers LTI ${list(supported)} tools only (choices with --lms ${lms}: ${list(supported)})`);
    }
    if (requested === '1.3' && env.demoLauncher) {
      throw new FormError(`--lti 1.3: environment "${env.name}" gives LTI 1.3 to its demo launcher (${env.path}.demoLauncher.enabled is true; turn it off to register an LMS over LTI 1.3; for an LMS it enables: ${list(enabled)})`);
    }
    if (!enabled.includes(requested)) {
      const key = requested === '1.1' ? 'lti11' : 'lti13';
      throw new FormError(`--lti ${requested}: environment "${env.name}" does not enable LTI ${requested} (${env.path}.${key}.enabled is false; it enables: ${list(enabled)})`);
    }
    return [requested];
  }
  const both = supported.filter((v) => enabled.includes(v));
  if (both.length === 0) {
    throw new FormError(`--lms ${lms}: ${LMS_TITLES[lms]} registers LTI ${list(supported)} tools, and environment "${env.name}" enables LTI ${list(enabled)} only`);
  }
  return both;
}

export interface FilledField {
  readonly label: string;
  /** What to enter (masked when secret and not shown). */
  readonly value: string;
  /** The outputs the value is made of; empty for options and text. */
  readonly outputs: readonly string[];
  readonly kind: 'output' | 'option' | 'text' | 'from-lms';
  readonly secret: boolean;
}

export interface FilledBack {
  readonly label: string;
  /** Full path in the config, e.g. `environments[0].lti13.issuer`. */
  readonly field: string;
  /** The config's value now. */
  readonly current: string;
  readonly hint?: string;
}

export interface FilledForm {
  readonly lms: LmsName;
  readonly lti: LtiVersion;
  readonly title: string;
  readonly sections: readonly { readonly heading: string; readonly where: string; readonly fields: readonly FilledField[]; readonly then?: string }[];
  readonly backFrom: string;
  readonly back: readonly FilledBack[];
  readonly guide: string;
}

function outputValue(outputs: TerraformOutputs, name: string, env: FormEnvironment): TerraformOutput {
  const found = outputs[name];
  if (found === undefined || typeof found.value !== 'string') {
    throw new FormError(`environment "${env.name}" has no output ${name}: deploy it (deploy ${env.name}) so its state holds the values of its current config`);
  }
  return found;
}

function fillField(field: FieldSpec, outputs: TerraformOutputs, env: FormEnvironment, showSecrets: boolean): FilledField {
  const v = field.value;
  if ('outputs' in v) {
    const used = v.outputs.map((name) => outputValue(outputs, name, env));
    const secret = used.some((o) => o.sensitive);
    const values = used.map((o) => (o.value as string).trimEnd());
    const value = secret && !showSecrets ? MASKED : v.format ? v.format(values) : values.join('');
    return { label: field.label, value, outputs: v.outputs, kind: 'output', secret };
  }
  if ('option' in v) return { label: field.label, value: v.option, outputs: [], kind: 'option', secret: false };
  if ('text' in v) return { label: field.label, value: v.text, outputs: [], kind: 'text', secret: false };
  return { label: field.label, value: `<${v.fromLms}>`, outputs: [], kind: 'from-lms', secret: false };
}

function currentValue(env: FormEnvironment, field: BackSpec['field']): string {
  const show = (values: readonly string[]) => (values.length === 0 ? '(none)' : values.join(', '));
  switch (field) {
    case 'lti13.issuer':
      return env.lti13.issuer ?? '(not set)';
    case 'lti13.clientIds':
      return show(env.lti13.clientIds);
    case 'lti13.deploymentIds':
      return env.lti13.deploymentIds.length === 0 ? '(none: any deployment)' : show(env.lti13.deploymentIds);
    case 'lti13.jwksUrl':
      return env.lti13.jwksUrl ?? '(not set)';
    case 'lti13.tokenUrl':
      return env.lti13.tokenUrl ?? '(not set: no LTI 1.3 grade passback)';
    case 'lti13.authorizeUrl':
      return env.lti13.authorizeUrl ?? '(not set)';
    case 'courses[].contexts': {
      const courses = Object.entries(env.contexts);
      const shown = courses.slice(0, 3).map(([course, ids]) => `${course}: ${show(ids)}`);
      return [...shown, ...(courses.length > 3 ? [`${courses.length - 3} more courses`] : [])].join('; ');
    }
  }
}

/** The forms for one LMS, filled with the environment's outputs; secrets masked unless showSecrets. */
export function lmsForms(lms: LmsName, env: FormEnvironment, outputs: TerraformOutputs, options: { readonly lti?: LtiVersion; readonly showSecrets: boolean }): FilledForm[] {
  return chooseVersions(lms, env, options.lti).map((lti) => {
    const spec = FORMS[lms](lti, env);
    return {
      lms,
      lti,
      title: `${LMS_TITLES[lms]}, LTI ${lti}`,
      sections: spec.sections.map((s) => ({ ...s, fields: s.fields.map((f) => fillField(f, outputs, env, options.showSecrets)) })),
      backFrom: spec.backFrom,
      back: spec.back.map((b) => ({ label: b.label, field: `${env.path}.${b.field}`, current: currentValue(env, b.field), ...(b.hint ? { hint: b.hint } : {}) })),
      guide: `docs/lms/${lms}.md`,
    };
  });
}

/** The forms as text: one line per field, its label as the LMS writes it, then the value. */
export function renderForms(forms: readonly FilledForm[], env: FormEnvironment): string {
  const lines: string[] = [];
  for (const form of forms) {
    if (lines.length > 0) lines.push('');
    lines.push(`${form.title}: environment "${env.name}" (guide: ${form.guide})`);
    const width = Math.max(...form.sections.flatMap((s) => s.fields.map((f) => f.label.length)));
    let where = '';
    for (const section of form.sections) {
      lines.push('', section.where === where ? `  ${section.heading}` : `  ${section.heading}  [${section.where}]`);
      where = section.where;
      for (const f of section.fields) lines.push(`    ${f.label.padEnd(width)}  ${f.value}`);
      if (section.then) lines.push(`    -> ${section.then}`);
    }
    lines.push('', `  Into the config (${env.source}), from ${form.backFrom}:`);
    const backWidth = Math.max(...form.back.map((b) => b.label.length));
    for (const b of form.back) {
      lines.push(`    ${b.label.padEnd(backWidth)}  -> ${b.field}  (now: ${b.current})`);
      if (b.hint) lines.push(`    ${' '.repeat(backWidth)}     ${b.hint}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
