import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Construct } from 'constructs';
import { containerDefaults } from './container-defaults';
import { PORTS, StackNames } from './naming';
import { StackNetworks } from './network';

export interface ProxyProps {
  readonly names: StackNames;
  readonly networks: StackNetworks;
  /** configurable-http-proxy image reference (pulled unless present locally). */
  readonly image: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly proxyToken: string;
  /** Host port and address the HTTPS port is published on. */
  readonly port: number;
  readonly bindAddress: string;
}

/**
 * configurable-http-proxy, separate from the hub so that replacing the hub container does not
 * drop users' connections. Terminates TLS; its API listens only on the control network.
 */
export class Proxy extends Construct {
  readonly container: Container;

  constructor(scope: Construct, id: string, props: ProxyProps) {
    super(scope, id);
    const { names } = props;
    const image = new Image(this, 'image', { name: props.image, keepLocally: true });
    const hubUrl = `http://${names.hub}:${PORTS.hub}`;
    this.container = new Container(this, 'container', {
      ...containerDefaults(names, 'proxy'),
      name: names.proxy,
      image: image.imageId,
      // uid 0 only to read the 0600 root-owned key; every capability is dropped.
      user: '0:0',
      capabilities: { drop: ['ALL'] },
      command: [
        '--port', String(PORTS.proxyHttps),
        '--api-ip', names.proxyApiAlias,
        '--api-port', String(PORTS.proxyApi),
        '--default-target', hubUrl,
        '--error-target', `${hubUrl}/hub/error`,
        '--ssl-cert', '/etc/chp/tls.crt',
        '--ssl-key', '/etc/chp/tls.key',
      ],
      env: [`CONFIGPROXY_AUTH_TOKEN=${props.proxyToken}`],
      ports: [{ internal: PORTS.proxyHttps, external: props.port, ip: props.bindAddress, protocol: 'tcp' }],
      networksAdvanced: [
        { name: props.networks.usersName },
        { name: props.networks.controlName, aliases: [names.proxyApiAlias] },
      ],
      upload: [
        { file: '/etc/chp/tls.crt', content: props.certificatePem, permissions: '0644' },
        { file: '/etc/chp/tls.key', content: props.privateKeyPem, permissions: '0600' },
      ],
    });
  }
}
