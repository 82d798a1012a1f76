import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Construct } from 'constructs';
import { PATHS, PORTS } from './contract';
import { containerDefaults, SERVING_PATH_CPU_SHARES } from './container-defaults';
import { StackNames } from './naming';
import { IStackNetworks } from './network';

export interface HttpProxyProps {
  readonly names: StackNames;
  readonly networks: IStackNetworks;
  /** configurable-http-proxy image reference (pulled unless present locally). */
  readonly image: string;
  readonly certificatePem: string;
  /** Sensitive. */
  readonly privateKeyPem: string;
  /** Token of the proxy's REST API (sensitive). */
  readonly proxyToken: string;
  /** Host port the HTTPS port is published on. */
  readonly port: number;
  /** Host address the HTTPS port is published on. */
  readonly bindAddress: string;
}

/**
 * configurable-http-proxy, separate from the hub so that replacing the hub container does not
 * drop users' connections. Terminates TLS; its API listens only on the control network.
 */
export class HttpProxy extends Construct {
  readonly container: Container;

  constructor(scope: Construct, id: string, props: HttpProxyProps) {
    super(scope, id);
    const { names } = props;
    const image = new Image(this, 'image', { name: props.image, keepLocally: true });
    const hubUrl = `http://${names.hub}:${PORTS.hub}`;
    this.container = new Container(this, 'container', {
      ...containerDefaults(names, 'proxy'),
      name: names.proxy,
      cpuShares: SERVING_PATH_CPU_SHARES,
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
        '--ssl-cert', PATHS.proxyCertificate,
        '--ssl-key', PATHS.proxyKey,
      ],
      env: [`CONFIGPROXY_AUTH_TOKEN=${props.proxyToken}`],
      ports: [{ internal: PORTS.proxyHttps, external: props.port, ip: props.bindAddress, protocol: 'tcp' }],
      networksAdvanced: [
        { name: props.networks.usersName },
        { name: props.networks.controlName, aliases: [names.proxyApiAlias] },
      ],
      upload: [
        { file: PATHS.proxyCertificate, content: props.certificatePem, permissions: '0644' },
        { file: PATHS.proxyKey, content: props.privateKeyPem, permissions: '0600' },
      ],
    });
  }
}
