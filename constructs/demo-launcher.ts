import { Container } from '@cdktf/provider-docker/lib/container';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { Lazy } from 'cdktf';
import { Construct } from 'constructs';
import { PATHS, PORTS, SECRET_FILES } from './contract';
import { containerDefaults } from './container-defaults';
import { StackNames } from './naming';

/** File names of the launcher's own secrets, in its container's secrets directory. */
export const DEMO_LAUNCHER_FILES = {
  platformKey: 'demo-launcher-platform-key.pem',
  tlsCertificate: 'demo-launcher-tls.crt',
  tlsKey: 'demo-launcher-tls.key',
} as const;

export interface DemoLauncherProps {
  readonly names: StackNames;
  /** The hub's image (the launcher is a module of the hub package). */
  readonly image: string;
  /** The network only the hub and the launcher join (the hub fetches the launcher's keyset there). */
  readonly network: string;
  /** Published HTTPS port and host address of the page. */
  readonly port: number;
  readonly bindAddress: string;
  /** The proxy's certificate and key (the page is served for the same host names). */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** The environment's LTI 1.1 consumer key and shared secret, when LTI 1.1 is on. */
  readonly lti11?: { readonly key: string; readonly secret: string };
  /** stack.json, as the hub gets it (rendered at synth). */
  readonly stackFile: () => string;
}

/**
 * The demo launcher (images/hub/jupyterhub_lti_stack/demo_launcher.py): a stand-in LMS on its
 * own container, from the hub's image, published on loopback by default. It signs LTI 1.1
 * launches with the environment's consumer secret and LTI 1.3 launches with its own platform key
 * (generated here); the hub fetches that key's JWKS over a network only the two of them join,
 * so no user container can ask the launcher for an instructor's launch.
 */
export class DemoLauncher extends Construct {
  readonly platformKey: PrivateKey;
  readonly container: Container;

  constructor(scope: Construct, id: string, props: DemoLauncherProps) {
    super(scope, id);
    const { names } = props;
    this.platformKey = new PrivateKey(this, 'platform-key', { algorithm: 'RSA', rsaBits: 2048 });
    const secret = (name: string, content: string) => ({ file: `${PATHS.hubSecretsDir}/${name}`, content, permissions: '0600' });
    const upload = Lazy.anyValue({
      produce: () => [
        { file: PATHS.hubStackFile, content: props.stackFile(), permissions: '0644' },
        secret(DEMO_LAUNCHER_FILES.platformKey, this.platformKey.privateKeyPem),
        secret(DEMO_LAUNCHER_FILES.tlsCertificate, props.certificatePem),
        secret(DEMO_LAUNCHER_FILES.tlsKey, props.privateKeyPem),
        ...(props.lti11 === undefined
          ? []
          : [secret(SECRET_FILES.lti11ConsumerKey, props.lti11.key), secret(SECRET_FILES.lti11SharedSecret, props.lti11.secret)]),
      ],
    });
    this.container = new Container(this, 'container', {
      ...containerDefaults(names, 'demo-launcher'),
      name: names.demoLauncher,
      image: props.image,
      command: ['python3', '-m', 'jupyterhub_lti_stack.demo_launcher'],
      // uid 0 only to read its 0600 root-owned files; every capability is dropped.
      user: '0:0',
      capabilities: { drop: ['ALL'] },
      ports: [{ internal: PORTS.demoLauncherHttps, external: props.port, ip: props.bindAddress, protocol: 'tcp' }],
      networksAdvanced: [{ name: props.network }],
      upload,
    });
  }
}
