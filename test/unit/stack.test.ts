import { CONTRACT_VERSION, courseServerName, resolveConfig } from '../../constructs';
import { byName, Json, load, resources, synthConfig } from './helpers';

/** A container's mounts as [volume name or host path, container path, read-only]. */
function mounts(stack: Record<string, unknown>, container: { volumes: { volume_name?: string; host_path?: string; container_path: string; read_only?: boolean }[] }) {
  const volumes = resources(stack, 'docker_volume');
  return container.volumes.map((v) => {
    const ref = /^\$\{docker_volume\.([\w-]+)\.name\}$/.exec(v.volume_name ?? '');
    return [ref ? volumes[ref[1]].name : (v.volume_name ?? v.host_path), v.container_path, v.read_only ?? false];
  });
}

describe('demo environment (embedded config)', () => {
  const { json } = synthConfig(load(undefined));
  const demo = json.demo;

  test('one stack named after the environment, with an explicit relative local backend', () => {
    expect(Object.keys(json)).toEqual(['demo']);
    expect(demo.terraform.backend).toEqual({ local: { path: '../../../state/demo.tfstate' } });
  });

  test('pins the three providers exactly (docker at the version the offline mirror can build)', () => {
    expect(demo.terraform.required_providers).toEqual({
      docker: { source: 'kreuzwerker/docker', version: '4.6.0' },
      random: { source: 'hashicorp/random', version: '3.7.2' },
      tls: { source: 'hashicorp/tls', version: '4.1.0' },
    });
  });

  test('declares the whole resource graph of the environment', () => {
    const counts = Object.fromEntries(Object.entries(demo.resource).map(([t, rs]) => [t, Object.keys(rs as object).length]));
    expect(counts).toEqual({
      docker_network: 3, // users, control, the demo launcher's
      docker_volume: 4, // hub data, exchange, uid map, one course
      docker_image: 3, // hub (built, also the launcher's), notebook (built), proxy (pulled)
      docker_container: 4, // proxy, hub, grader, demo launcher
      random_bytes: 7, // cookie, crypt key, proxy token, culler token, LTI key + secret, one service token
      tls_private_key: 3, // proxy TLS, the tool's LTI 1.3 signing key, the launcher's platform key
      tls_self_signed_cert: 1,
    });
  });

  test('control network is internal; only hub and proxy join it, the proxy API listens there alone', () => {
    const control = byName(demo, 'docker_network', 'jhlti-demo-control');
    expect(control.internal).toBe(true);
    const proxy = byName(demo, 'docker_container', 'jhlti-demo-proxy');
    const hub = byName(demo, 'docker_container', 'jhlti-demo-hub');
    const grader = byName(demo, 'docker_container', 'jhlti-demo-grader-intro101');
    const nets = (c: { networks_advanced: { name: string }[] }) => c.networks_advanced.map((n) => n.name);
    expect(nets(proxy)).toHaveLength(2);
    expect(nets(hub)).toHaveLength(3); // users, control, the launcher's network
    expect(nets(grader)).toEqual(['${docker_network.networks_users_9D2EC729.name}']);
    expect(proxy.networks_advanced[1]).toEqual({ name: '${docker_network.networks_control_3F0DDEFF.name}', aliases: ['jhlti-demo-proxy-api'] });
    expect(proxy.command.join(' ')).toContain('--api-ip jhlti-demo-proxy-api --api-port 8001');
  });

  test('proxy terminates TLS with the generated key (0600) and publishes only 8443 on the bind address', () => {
    const proxy = byName(demo, 'docker_container', 'jhlti-demo-proxy');
    expect(proxy.ports).toEqual([{ internal: 8443, external: 8443, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(proxy.upload).toContainEqual({ file: '/etc/chp/tls.key', content: '${tls_private_key.tls-cert_key_258D5A44.private_key_pem}', permissions: '0600' });
    expect(proxy.capabilities).toEqual({ drop: ['ALL'] });
    expect(proxy.security_opts).toEqual(['no-new-privileges:true']);
    const key = Object.entries(resources(demo, 'tls_private_key')).find(([id]) => id.startsWith('tls-cert_'))?.[1];
    expect(key).toMatchObject({ algorithm: 'ECDSA', ecdsa_curve: 'P256' });
    const cert = Object.values(resources(demo, 'tls_self_signed_cert'))[0];
    expect(cert.dns_names).toEqual(['localhost']);
    expect(cert.ip_addresses).toEqual(['127.0.0.1']);
  });

  test('hub: only container with the Docker socket, secrets as 0600 files, stack.json without secrets', () => {
    const containers = Object.values(resources(demo, 'docker_container'));
    const withSocket = containers.filter((c) => (c.volumes ?? []).some((v: { container_path: string }) => v.container_path === '/var/run/docker.sock'));
    expect(withSocket.map((c) => c.name)).toEqual(['jhlti-demo-hub']);
    const hub = withSocket[0];
    expect(hub).toMatchObject({ wait: true, wait_timeout: 180 });
    expect(hub.healthcheck.test.join(' ')).toContain('/hub/health');
    expect(mounts(demo, hub)).toEqual([
      ['jhlti-demo-hub-data', '/srv/jupyterhub/data', false],
      ['jhlti-demo-uids', '/srv/jupyterhub/uids', false],
      ['/var/run/docker.sock', '/var/run/docker.sock', false],
      // Read-only: deep linking lists the course's assignments.
      ['jhlti-demo-course-intro101', '/srv/jupyterhub/courses/intro101', true],
    ]);
    const secretUploads = hub.upload.filter((u: { file: string }) => u.file.startsWith('/srv/jupyterhub/secrets/'));
    expect(secretUploads.map((u: { file: string }) => u.file.split('/').pop()).sort()).toEqual([
      'cookie_secret',
      'crypt_key',
      'lti11_consumer_key',
      'lti11_shared_secret',
      'lti13-signing-key-1.pem',
      'proxy_token',
      'service-token-idle-culler',
      'service-token-intro101',
    ]);
    for (const u of secretUploads) {
      expect(u.permissions).toBe('0600');
      expect(u.content).toMatch(/^\$\{(random_bytes\.[\w-]+\.hex|tls_private_key\.secrets_signing-key-1_\w+\.private_key_pem)\}$/);
    }
    const stackFile = JSON.parse(hub.upload.find((u: { file: string }) => u.file === '/srv/jupyterhub/stack.json').content);
    expect(stackFile).toMatchObject({
      schema_version: CONTRACT_VERSION,
      environment: 'demo',
      public_url: 'https://localhost:8443',
      proxy_api_url: 'http://jhlti-demo-proxy-api:8001',
      docker: { network: 'jhlti-demo-users', exchange_volume: 'jhlti-demo-exchange', server_name_template: 'jhlti-demo-nb-{username}--{servername}' },
      lti11: { enabled: true },
      // The demo launcher is the demo's LTI 1.3 platform, and its page may frame the hub.
      lti13: {
        enabled: true,
        platforms: [{ issuer: 'https://127.0.0.1:8444', client_ids: ['demo-launcher'], authorize_url: 'https://127.0.0.1:8444/authorize', jwks_url: 'http://jhlti-demo-launcher:8080/jwks', deployment_ids: ['demo-launcher'], token_url: null }],
      },
      frame_ancestors: ['https://127.0.0.1:8444'],
      demo_launcher: { url: 'https://127.0.0.1:8444', https_port: 8444, jwks_port: 8080 },
      idle_cull_seconds: 3600,
      limits: { servers_per_user: 3 },
    });
    expect(stackFile.courses).toHaveLength(1);
    expect(stackFile.courses[0]).toMatchObject({ id: 'intro101', context_ids: ['demo-context-intro101'], grader_url: 'http://jhlti-demo-grader-intro101:8888' });
    const notebook = byName(demo, 'docker_image', stackFile.courses[0].image);
    expect(notebook.build.build_args).toEqual({
      BASE_IMAGE: 'quay.io/jupyter/scipy-notebook:hub-5.5.4',
      JHLTI_LABEL_ENVIRONMENT: 'demo',
      JHLTI_LABEL_COURSE: 'intro101',
      JHLTI_LABEL_IDENTITY: notebook.triggers.identity_sha256,
    });
  });

  test('built images carry the context hash in their tag and triggers; pulled bases are kept locally', () => {
    for (const image of Object.values(resources(demo, 'docker_image'))) {
      if (image.build === undefined) {
        expect(image).toMatchObject({ name: 'quay.io/jupyterhub/configurable-http-proxy:5.3.0', keep_locally: true });
        continue;
      }
      expect(image.triggers.context_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(image.name.endsWith(`:${image.triggers.identity_sha256.slice(0, 12)}`)).toBe(true);
      expect(image.build.context).toMatch(/^assets\//);
      expect(image.build.use_legacy_builder).toBe(true);
      expect(image.build.label).toBeUndefined(); // dropped by the classic builder: labels come from build args
      expect(image.build.build_args.JHLTI_LABEL_ENVIRONMENT).toBe('demo');
    }
  });

  test('data volumes are protected from destroy; containers log explicitly and restart', () => {
    for (const volume of Object.values(resources(demo, 'docker_volume'))) expect(volume.lifecycle).toEqual({ prevent_destroy: true });
    for (const c of Object.values(resources(demo, 'docker_container'))) {
      expect(c).toMatchObject({ log_driver: 'json-file', restart: 'unless-stopped', must_run: true });
      expect(c.security_opts).toEqual(['no-new-privileges:true']);
    }
  });

  test('grader: service env for its course, course + exchange volumes, the uid map read-only, memory without swap', () => {
    const grader = byName(demo, 'docker_container', 'jhlti-demo-grader-intro101');
    expect(grader.env).toEqual(expect.arrayContaining(['JUPYTERHUB_SERVICE_NAME=intro101', 'JUPYTERHUB_SERVICE_PREFIX=/services/intro101/', 'JHLTI_COURSE_ID=intro101']));
    expect(grader.env).toContainEqual(expect.stringMatching(/^JUPYTERHUB_API_TOKEN=\$\{random_bytes\.secrets_service-token-intro101_\w+\.hex\}$/));
    expect(mounts(demo, grader)).toEqual([
      ['jhlti-demo-course-intro101', '/srv/nbgrader/courses/intro101', false],
      ['jhlti-demo-exchange', '/srv/nbgrader/exchange', false],
      ['jhlti-demo-uids', '/srv/nbgrader/uids', true],
    ]);
    expect(grader.env).toContain('JUPYTER_CONFIG_PATH=/etc/jupyter/jhlti-grader');
    expect(grader.memory).toBe(2048);
    expect(grader.memory_swap).toBe(2048);
  });

  test('outputs for LMS registration; secrets are sensitive', () => {
    const out = demo.output;
    expect(out.lti11_launch_url.value).toBe('https://localhost:8443/hub/lti/launch');
    expect(out.hub_url.value).toBe('https://localhost:8443/hub/');
    expect(out.lti11_shared_secret.sensitive).toBe(true);
    expect(out.lti11_consumer_key.sensitive).toBe(true);
    expect(out.tls_certificate_pem.value).toMatch(/^\$\{tls_self_signed_cert\./);
    expect(out.demo_launcher_url.value).toBe('https://127.0.0.1:8444/');
    expect(out.lti13_login_initiation_url.value).toBe('https://localhost:8443/hub/lti13/oauth_login');
  });

  test('demo launcher: its own container from the hub image, on loopback, on a network only the hub shares, no hub secret', () => {
    const launcher = byName(demo, 'docker_container', 'jhlti-demo-launcher');
    const hub = byName(demo, 'docker_container', 'jhlti-demo-hub');
    expect(launcher.image).toBe(hub.image);
    expect(launcher.command).toEqual(['python3', '-m', 'jupyterhub_lti_stack.demo_launcher']);
    expect(launcher.ports).toEqual([{ internal: 8444, external: 8444, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(launcher.capabilities).toEqual({ drop: ['ALL'] });
    const net = byName(demo, 'docker_network', 'jhlti-demo-launcher-net');
    expect(net.internal).toBeUndefined();
    const netRef = launcher.networks_advanced.map((n: { name: string }) => n.name);
    expect(netRef).toHaveLength(1);
    expect(hub.networks_advanced.map((n: { name: string }) => n.name)).toContain(netRef[0]);
    for (const c of Object.values(resources(demo, 'docker_container'))) {
      if (c.name !== 'jhlti-demo-hub' && c.name !== 'jhlti-demo-launcher') expect(c.networks_advanced.map((n: { name: string }) => n.name)).not.toContain(netRef[0]);
    }
    const files = launcher.upload.map((u: { file: string }) => u.file).sort();
    expect(files).toEqual([
      '/srv/jupyterhub/secrets/demo-launcher-platform-key.pem',
      '/srv/jupyterhub/secrets/demo-launcher-tls.crt',
      '/srv/jupyterhub/secrets/demo-launcher-tls.key',
      '/srv/jupyterhub/secrets/lti11_consumer_key',
      '/srv/jupyterhub/secrets/lti11_shared_secret',
      '/srv/jupyterhub/stack.json',
    ]);
    for (const u of launcher.upload) expect(u.permissions).toBe(u.file.endsWith('stack.json') ? '0644' : '0600');
    expect(launcher.depends_on).toHaveLength(1);
    expect(launcher.depends_on[0]).toMatch(/^docker_container\.hub_container_[0-9A-F]{8}$/);
  });
});

describe('three courses in two environments', () => {
  const { json } = synthConfig(load('three-courses.yaml'));

  test('each environment is its own stack with its own state', () => {
    expect(Object.keys(json).sort()).toEqual(['chem', 'physics']);
    expect(json.chem.terraform.backend.local.path).toBe('../../../state/chem-course.tfstate');
    expect(json.physics.terraform.backend.local.path).toBe('../../../state/physics.tfstate');
  });

  test('LTI 1.3 outputs; no LTI 1.1 secrets where LTI 1.1 is off', () => {
    expect(json.physics.output.lti13_login_initiation_url.value).toBe('https://physics.example.test:8443/hub/lti13/oauth_login');
    expect(json.physics.output.lti13_redirect_url.value).toBe('https://physics.example.test:8443/hub/lti13/oauth_callback');
    expect(json.chem.output.lti11_shared_secret).toBeUndefined();
    expect(Object.keys(resources(json.chem, 'random_bytes')).some((id) => id.includes('lti11'))).toBe(false);
  });

  test('provided certificate: read by Terraform from a relative path, the key marked sensitive', () => {
    // No TLS key: only the tool's LTI 1.3 signing key is generated.
    expect(Object.values(resources(json.chem, 'tls_private_key'))).toEqual([{ algorithm: 'RSA', rsa_bits: 2048 }]);
    expect(Object.keys(resources(json.chem, 'tls_private_key'))[0]).toMatch(/^secrets_signing-key-1_/);
    const proxy = byName(json.chem, 'docker_container', 'jhlti-chem-proxy');
    const key = proxy.upload.find((u: { file: string }) => u.file === '/etc/chp/tls.key');
    expect(key.content).toBe('${sensitive(file("../../../test/fixtures/tls/test-only-chem.key"))}');
  });

  test('per-course notebook images, allow-listed images pulled ahead of any spawn, iframe origins', () => {
    const hub = byName(json.physics, 'docker_container', 'jhlti-physics-hub');
    const stackFile = JSON.parse(hub.upload.find((u: { file: string }) => u.file === '/srv/jupyterhub/stack.json').content);
    expect(stackFile.courses.map((c: { id: string }) => c.id)).toEqual(['mechanics', 'data_lab']);
    expect(stackFile.courses[1]).toMatchObject({ allowed_images: ['quay.io/jupyter/datascience-notebook:hub-5.5.4'], grader_uid: 4100 });
    expect(byName(json.physics, 'docker_image', 'quay.io/jupyter/datascience-notebook:hub-5.5.4').keep_locally).toBe(true);
    // One server per (user, course): each course's own server name and limits (the environment's by default).
    expect(stackFile.courses.map((c: { server_name: string; limits: unknown; idle_cull_seconds: number }) => [c.server_name, c.limits, c.idle_cull_seconds])).toEqual([
      ['mechanics', { memory_bytes: 1024 ** 3, cpus: 0.5 }, 1800],
      [courseServerName('data_lab'), { memory_bytes: 1024 ** 3, cpus: 0.5 }, 1800],
    ]);
    expect(courseServerName('data_lab')).toMatch(/^data-lab-[0-9a-f]{6}$/);
    expect(stackFile.limits).toEqual({ servers_per_user: 3 });
    const chemHub = byName(json.chem, 'docker_container', 'jhlti-chem-hub');
    const chemFile = JSON.parse(chemHub.upload.find((u: { file: string }) => u.file === '/srv/jupyterhub/stack.json').content);
    expect(chemFile.frame_ancestors).toEqual(['https://moodle.example.test']);
    // iframe mode reaches the graders too (images/notebook/jhlti_embedding); new-window mode sets nothing.
    const graderEnv = (stack: Record<string, unknown>) =>
      Object.values(resources(stack, 'docker_container')).filter((c) => String(c.name).includes('-grader-')).map((c) => c.env as string[]);
    expect(graderEnv(json.chem).length).toBeGreaterThan(0);
    for (const env of graderEnv(json.chem)) expect(env).toContain('JHLTI_FRAME_ANCESTORS=https://moodle.example.test');
    for (const env of graderEnv(json.physics)) expect(env.some((e) => e.startsWith('JHLTI_FRAME_ANCESTORS='))).toBe(false);
    expect(chemFile.lti13).toMatchObject({ enabled: true, platforms: [{ issuer: 'https://moodle.example.test', client_ids: ['chem-client'] }] });
  });

  test("the platform's internal CA becomes the hub's outgoing trust store", () => {
    const hub = byName(json.chem, 'docker_container', 'jhlti-chem-hub');
    expect(hub.env).toEqual(['SSL_CERT_FILE=/srv/jupyterhub/outgoing-ca.pem']);
    const ca = hub.upload.find((u: { file: string }) => u.file === '/srv/jupyterhub/outgoing-ca.pem');
    expect(Buffer.from(ca.content_base64, 'base64').toString('utf8')).toContain('-----BEGIN CERTIFICATE-----');
    expect(byName(json.physics, 'docker_container', 'jhlti-physics-hub').env).toBeUndefined();
  });

  test('the two environments share no Docker name', () => {
    const names = (stack: Record<string, unknown>) =>
      ['docker_network', 'docker_volume', 'docker_container'].flatMap((t) => Object.values(resources(stack, t)).map((r) => r.name as string));
    const physics = new Set(names(json.physics));
    expect(names(json.chem).filter((n) => physics.has(n))).toEqual([]);
  });
});

describe('image profiles', () => {
  test('JHLTI_BASE_IMAGES=local points every default base at the stand-ins, explicit settings win', () => {
    const { json } = synthConfig(load(undefined, { baseImages: 'local' }));
    const images = Object.values(resources(json.demo, 'docker_image'));
    const bases = images.map((i) => i.build?.build_args?.BASE_IMAGE ?? i.name).sort();
    expect(bases).toEqual([
      'localhost/jhlti-stand-in/base-notebook:hub-5.5.4',
      'localhost/jhlti-stand-in/configurable-http-proxy:5.3.0',
      'localhost/jhlti-stand-in/jupyterhub:5.5.4',
    ]);
    const physics = synthConfig(load('three-courses.yaml', { baseImages: 'local' })).json.physics;
    expect(byName(physics, 'docker_image', 'quay.io/jupyter/datascience-notebook:hub-5.5.4')).toBeDefined();
  });

  test('an R course builds on the R notebook base of its profile; Julia synthesizes on the official one', () => {
    const raw = (kernels: string[]) => ({ version: 1, environments: [{ name: 'demo', courses: [{ id: 'stats', title: 'Stats', contexts: ['ctx-stats'], kernels }] }] });
    const bases = (json: Json) => Object.values(resources(json, 'docker_image')).map((i) => i.build?.build_args?.BASE_IMAGE).filter(Boolean);
    const local = synthConfig(resolveConfig(raw(['python', 'r']), 'test', { baseImages: 'local', caBundle: '' })).json.demo;
    expect(bases(local)).toContain('localhost/jhlti-stand-in/r-notebook:hub-5.5.4');
    const julia = synthConfig(resolveConfig(raw(['python', 'julia']), 'test', { baseImages: 'official', caBundle: '' })).json.demo;
    expect(bases(julia)).toContain('quay.io/jupyter/julia-notebook:hub-5.5.4');
  });

  test('JHLTI_IMAGE_REGISTRY moves the official defaults to a mirror; explicit images and the stand-ins stay', () => {
    const raw = { version: 1, environments: [{ name: 'demo', images: { proxy: 'example.org/chp:1' }, courses: [{ id: 'stats', title: 'Stats', contexts: ['c'], kernels: ['python', 'r'] }, { id: 'own', title: 'Own', contexts: ['d'], notebookBase: 'example.org/nb:2' }] }] };
    const names = (json: Json) => [
      ...Object.values(resources(json, 'docker_image')).map((i) => i.build?.build_args?.BASE_IMAGE ?? i.name),
    ].filter((n: string) => !n.startsWith('jhlti/')).sort();
    const mirrored = synthConfig(resolveConfig(raw, 'test', { baseImages: 'official', caBundle: '', imageRegistry: '127.0.0.1:5000/quay' })).json.demo;
    expect(names(mirrored)).toEqual([
      '127.0.0.1:5000/quay/jupyter/r-notebook:hub-5.5.4',
      '127.0.0.1:5000/quay/jupyterhub/jupyterhub:5.5.4',
      'example.org/chp:1',
      'example.org/nb:2',
    ]);
    const local = synthConfig(resolveConfig(raw, 'test', { baseImages: 'local', caBundle: '', imageRegistry: '127.0.0.1:5000' })).json.demo;
    expect(names(local)).toContain('localhost/jhlti-stand-in/r-notebook:hub-5.5.4');
  });
});

describe('the tool\'s LTI 1.3 signing keys', () => {
  test('rotation: every named key is generated and published, the first one signs', () => {
    const config = load('three-courses.yaml');
    const physics = config.environments.find((e) => e.name === 'physics');
    const rotated = { ...config, environments: [{ ...physics!, lti13: { ...physics!.lti13, signingKeys: ['2', '1'] } }] };
    const { json, stacks } = synthConfig(rotated as typeof config);
    const keys = Object.entries(resources(json.physics, 'tls_private_key')).filter(([id]) => id.includes('signing-key'));
    expect(keys.map(([id, k]) => [id.split('_')[1], k.rsa_bits]).sort()).toEqual([['signing-key-1', 2048], ['signing-key-2', 2048]]);
    const stackFile = JSON.parse(stacks[0].environment.renderStackFile());
    expect(stackFile.lti13.signing_keys).toEqual([
      { name: '2', secret_file: 'lti13-signing-key-2.pem' },
      { name: '1', secret_file: 'lti13-signing-key-1.pem' },
    ]);
    const hub = byName(json.physics, 'docker_container', 'jhlti-physics-hub');
    const uploads = hub.upload.filter((u: { file: string }) => u.file.includes('signing-key'));
    expect(uploads.map((u: { permissions: string }) => u.permissions)).toEqual(['0600', '0600']);
  });

  test('an environment without LTI 1.3 has no signing key', () => {
    const config = resolveConfig({ version: 1, environments: [{ name: 'plain', courses: [{ id: 'intro101', title: 'Intro', contexts: ['c1'] }] }] }, 'inline', { baseImages: 'official', caBundle: '' });
    const { json } = synthConfig(config);
    expect(Object.keys(resources(json.plain, 'tls_private_key')).filter((k) => k.includes('signing-key'))).toEqual([]);
    expect(json.plain.output.demo_launcher_url).toBeUndefined();
    expect(Object.values(resources(json.plain, 'docker_container')).map((c) => c.name)).not.toContain('jhlti-plain-launcher');
  });
});

describe('the LTI 1.1 shared secret', () => {
  const plain = (lti11?: object) =>
    resolveConfig({ version: 1, environments: [{ name: 'plain', lti11, courses: [{ id: 'intro101', title: 'Intro', contexts: ['c1'] }] }] }, 'inline', { baseImages: 'official', caBundle: '' });
  const secretOf = (lti11?: object) => resources(synthConfig(plain(lti11)).json.plain, 'random_bytes');

  test('version 1 (the default) adds no keeper, so stacks deployed before the setting keep their secret', () => {
    const bytes = secretOf();
    const [id, secret] = Object.entries(bytes).find(([k]) => k.startsWith('secrets_lti11-shared-secret_'))!;
    expect(secret).toEqual({ length: 32 });
    expect(secretOf({ secretVersion: 1 })[id]).toEqual({ length: 32 });
  });

  test('a higher secretVersion is a keeper of the secret only: the consumer key and its id stay', () => {
    const before = secretOf();
    const after = secretOf({ secretVersion: 2 });
    expect(Object.keys(after)).toEqual(Object.keys(before));
    const [id, secret] = Object.entries(after).find(([k]) => k.startsWith('secrets_lti11-shared-secret_'))!;
    expect(secret).toEqual({ length: 32, keepers: { version: '2' } });
    for (const [other, value] of Object.entries(after)) if (other !== id) expect(value).toEqual(before[other]);
  });

  test.each([[0], [1.5], ['2']])('secretVersion %p is refused with the field and the fix', (secretVersion) => {
    expect(() => plain({ secretVersion })).toThrow(/lti11\.secretVersion/);
  });
});

describe('engine swarm', () => {
  const stack = synthConfig(load('swarm.yaml')).json.cluster;
  const services = (name: string) => byName(stack, 'docker_service', name);
  const shared = '/mnt/cephfs/jupyter/jhlti-cluster';

  test('services in place of containers, overlay networks, no local data volume but the hub DB', () => {
    expect(Object.keys(resources(stack, 'docker_container'))).toEqual([]);
    expect(Object.values(resources(stack, 'docker_service')).map((s: Json) => s.name).sort()).toEqual(['jhlti-cluster-grader-data_lab', 'jhlti-cluster-grader-stats', 'jhlti-cluster-hub', 'jhlti-cluster-proxy']);
    const users = byName(stack, 'docker_network', 'jhlti-cluster-users');
    const control = byName(stack, 'docker_network', 'jhlti-cluster-control');
    expect([users.driver, users.attachable, control.driver, control.internal]).toEqual(['overlay', true, 'overlay', true]);
    expect(Object.values(resources(stack, 'docker_volume')).map((v: Json) => v.name)).toEqual(['jhlti-cluster-hub-data']);
  });

  test('hub and proxy on a manager; the proxy API on the control network alone, HTTPS published by the mesh', () => {
    const hub = services('jhlti-cluster-hub');
    const proxy = services('jhlti-cluster-proxy');
    expect(hub.task_spec.placement.constraints).toEqual(['node.role==manager']);
    expect(proxy.task_spec.placement.constraints).toEqual(['node.role==manager']);
    expect(proxy.endpoint_spec).toEqual({ mode: 'vip', ports: [{ target_port: 8443, published_port: 443, publish_mode: 'ingress', protocol: 'tcp' }] });
    // by network id (a name would replace the service at every plan: the provider reads ids back)
    expect(proxy.task_spec.networks_advanced).toEqual([
      { id: '${docker_network.networks_users_9D2EC729.id}', driver_opts: [] },
      { id: '${docker_network.networks_control_3F0DDEFF.id}', driver_opts: [], aliases: ['jhlti-cluster-proxy-api'] },
    ]);
    // its API address: its own task's on the control network, not the alias's virtual IP
    expect(proxy.task_spec.container_spec.command.slice(-1)).toEqual(['jhlti-cluster-proxy-api']);
    expect(proxy.task_spec.container_spec.args).not.toContain('--api-ip');
    expect(proxy.task_spec.container_spec.secrets).toEqual([expect.objectContaining({ file_name: '/etc/chp/tls.key', file_mode: 0o600, file_uid: '0' })]);
    expect(hub.update_config.order).toBe('stop-first');
  });

  test('hub: the Docker socket and the shared root, stack.json as a config, every secret file a Docker secret (0600) with no value in the output', () => {
    const spec = services('jhlti-cluster-hub').task_spec.container_spec;
    expect(spec.mounts).toEqual([
      { type: 'volume', source: '${docker_volume.hub_data_volume_AE71A0B5.name}', target: '/srv/jupyterhub/data', read_only: false },
      { type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock', read_only: false },
      { type: 'bind', source: '/mnt/cephfs/jupyter', target: '/srv/jhlti-shared', read_only: false },
    ]);
    expect(spec.cap_drop).toEqual(['ALL']);
    expect(spec.secrets.map((s: Json) => s.file_name).sort()).toEqual(
      ['cookie_secret', 'crypt_key', 'lti11_consumer_key', 'lti11_shared_secret', 'proxy_token', 'service-token-data_lab', 'service-token-idle-culler', 'service-token-stats'].map((f) => `/srv/jupyterhub/secrets/${f}`),
    );
    expect(new Set(spec.secrets.map((s: Json) => s.file_mode))).toEqual(new Set([0o600]));
    for (const secret of Object.values(resources(stack, 'docker_secret')) as Json[]) {
      expect(secret.data).toMatch(/^\$\{base64encode\((random_bytes\.[\w-]+\.hex|tls_private_key\.[\w-]+\.private_key_pem)\)\}$/);
      expect(secret.lifecycle.create_before_destroy).toBe(true);
    }
    const [config] = spec.configs;
    expect(config.file_name).toBe('/srv/jupyterhub/stack.json');
    const stackFile = JSON.parse(Buffer.from(byName(stack, 'docker_config', Object.values(resources(stack, 'docker_config')).map((c: Json) => c.name).find((n: string) => n.startsWith('jhlti-cluster-stack-'))).data, 'base64').toString());
    expect(stackFile.swarm).toEqual({ shared_root: '/mnt/cephfs/jupyter', nfs: null, environment_dir: 'jhlti-cluster', endpoint_mode: 'vip', constraints: ['node.role==worker'] });
    expect(stackFile.courses.map((c: Json) => c.image)).toEqual([expect.stringMatching(/^registry\.example\.test:5000\/jhlti\/cluster-notebook-stats:[0-9a-f]{12}$/), expect.stringMatching(/^registry\.example\.test:5000\/jhlti\/cluster-notebook-data_lab:/)]);
  });

  test('images are built once and pushed to the registry the config names; the provider may push there', () => {
    const pushed = Object.values(resources(stack, 'docker_registry_image')).map((r: Json) => r.name);
    expect(pushed).toHaveLength(3);
    expect(stack.provider.docker).toEqual([{ registry_auth: [{ address: 'registry.example.test:5000' }] }]);
    // pinned by the pushed digest, as the swarm records it (a tag alone would be a diff at every plan)
    expect(services('jhlti-cluster-hub').task_spec.container_spec.image).toMatch(/^\$\{docker_registry_image\.(hub_image_push_[0-9A-F]+)\.name\}@\$\{docker_registry_image\.\1\.sha256_digest\}$/);
    for (const image of Object.values(resources(stack, 'docker_image')) as Json[]) {
      if (image.build !== undefined) expect([image.name.startsWith('registry.example.test:5000/'), image.force_remove]).toEqual([true, true]);
    }
  });

  test("graders: on the nodes the servers use, their directories on the shared filesystem, the course's memory", () => {
    const grader = services('jhlti-cluster-grader-stats');
    expect(grader.task_spec.placement.constraints).toEqual(['node.role==worker']);
    expect(grader.task_spec.container_spec.mounts).toEqual([
      { type: 'bind', source: `${shared}/courses/stats`, target: '/srv/nbgrader/courses/stats', read_only: false },
      { type: 'bind', source: `${shared}/exchange`, target: '/srv/nbgrader/exchange', read_only: false },
      { type: 'bind', source: `${shared}/uids`, target: '/srv/nbgrader/uids', read_only: true },
    ]);
    expect(grader.task_spec.resources.limits.memory_bytes).toBe(3 * 1024 ** 3);
    expect(grader.task_spec.container_spec.cap_drop).toEqual(['ALL']);
    expect(grader.task_spec.container_spec.env.NB_UID).toMatch(/^\d+$/);
  });

  test('NFS storage: every shared directory an NFS volume of the local driver, under <path>/jhlti-<env>/', () => {
    const nfs = synthConfig(load('swarm.yaml')).json.nfsclass;
    const o = { type: 'nfs', o: 'addr=10.20.30.40,nfsvers=4.1,hard' };
    const volume = (source: string, target: string, device: string, readOnly = false) => ({
      type: 'volume', source, target, read_only: readOnly, volume_options: { driver_name: 'local', driver_options: { ...o, device } },
    });
    expect(byName(nfs, 'docker_service', 'jhlti-nfsclass-hub').task_spec.container_spec.mounts[2]).toEqual(volume('jhlti-nfsclass-nfs-root', '/srv/jhlti-shared', ':/export/jupyter'));
    expect(byName(nfs, 'docker_service', 'jhlti-nfsclass-grader-bio').task_spec.container_spec.mounts).toEqual([
      volume('jhlti-nfsclass-nfs-courses--bio', '/srv/nbgrader/courses/bio', ':/export/jupyter/jhlti-nfsclass/courses/bio'),
      volume('jhlti-nfsclass-nfs-exchange', '/srv/nbgrader/exchange', ':/export/jupyter/jhlti-nfsclass/exchange'),
      volume('jhlti-nfsclass-nfs-uids', '/srv/nbgrader/uids', ':/export/jupyter/jhlti-nfsclass/uids', true),
    ]);
    const proxy = byName(nfs, 'docker_service', 'jhlti-nfsclass-proxy');
    expect(proxy.endpoint_spec).toEqual({ mode: 'dnsrr', ports: [{ target_port: 8443, published_port: 8443, publish_mode: 'host', protocol: 'tcp' }] });
    expect(nfs.provider.docker).toEqual([{ registry_auth: [{ address: 'registry.example.test:5000', auth_disabled: true }] }]);
  });
});
