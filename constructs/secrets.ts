import { Bytes } from '@cdktf/provider-random/lib/bytes';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { Construct } from 'constructs';
import { SECRET_FILES, SIGNING_KEY_RSA_BITS, serviceTokenFile, signingKeyFile } from './contract';

export interface HubSecretsProps {
  /** Generate the LTI 1.1 consumer key and shared secret. */
  readonly lti11: boolean;
  /**
   * Generation of the LTI 1.1 shared secret: any other value than the deployed one generates a
   * new secret. 1 adds no keeper, so stacks deployed before this setting keep their secret.
   * @default 1
   */
  readonly lti11SecretVersion?: number;
  /**
   * Names of the tool's LTI 1.3 signing keys to generate (RSA, tls provider), the signing one first.
   * @default [] (no LTI 1.3)
   */
  readonly signingKeys?: readonly string[];
}

/** A secret file for the hub: its name under the secrets directory and its (sensitive) value. */
export interface SecretFile {
  readonly name: string;
  readonly value: string;
}

/**
 * Every secret of an environment, from the random provider's random_bytes (32 bytes, hex, marked
 * sensitive by the provider), so no value is ever in cdktf.out or printed by a plan.
 */
export class HubSecrets extends Construct {
  readonly cookieSecret: string;
  readonly cryptKey: string;
  readonly proxyToken: string;
  readonly idleCullerToken: string;
  readonly lti11ConsumerKey?: string;
  readonly lti11SharedSecret?: string;
  /** The tool's signing keys by name (private key PEM is sensitive in Terraform). */
  readonly signingKeys: ReadonlyMap<string, PrivateKey>;
  private readonly serviceTokens = new Map<string, string>();

  constructor(scope: Construct, id: string, props: HubSecretsProps) {
    super(scope, id);
    this.cookieSecret = this.hex('cookie-secret');
    this.cryptKey = this.hex('crypt-key');
    this.proxyToken = this.hex('proxy-token');
    this.idleCullerToken = this.hex('service-token-idle-culler');
    if (props.lti11) {
      this.lti11ConsumerKey = this.hex('lti11-consumer-key');
      const version = props.lti11SecretVersion ?? 1;
      this.lti11SharedSecret = this.hex('lti11-shared-secret', version === 1 ? undefined : { version: String(version) });
    }
    // One resource per name: rotating adds and later removes keys, never regenerates one in place.
    this.signingKeys = new Map(
      (props.signingKeys ?? []).map((name) => [name, new PrivateKey(this, `signing-key-${name}`, { algorithm: 'RSA', rsaBits: SIGNING_KEY_RSA_BITS })]),
    );
  }

  private hex(id: string, keepers?: Record<string, string>): string {
    return new Bytes(this, id, { length: 32, keepers }).hex;
  }

  /** A new API token for a course's grader service. */
  addServiceToken(course: string): string {
    if (this.serviceTokens.has(course)) throw new Error(`a service token for course "${course}" exists already`);
    const token = this.hex(`service-token-${course}`);
    this.serviceTokens.set(course, token);
    return token;
  }

  /** The files the hub reads (images/CONTRACT.md), named by the contract. */
  hubFiles(): SecretFile[] {
    const files: SecretFile[] = [
      { name: SECRET_FILES.cookieSecret, value: this.cookieSecret },
      { name: SECRET_FILES.cryptKey, value: this.cryptKey },
      { name: SECRET_FILES.proxyToken, value: this.proxyToken },
      { name: SECRET_FILES.idleCullerToken, value: this.idleCullerToken },
    ];
    if (this.lti11ConsumerKey !== undefined && this.lti11SharedSecret !== undefined) {
      files.push({ name: SECRET_FILES.lti11ConsumerKey, value: this.lti11ConsumerKey }, { name: SECRET_FILES.lti11SharedSecret, value: this.lti11SharedSecret });
    }
    for (const [name, key] of this.signingKeys) files.push({ name: signingKeyFile(name), value: key.privateKeyPem });
    for (const [course, token] of this.serviceTokens) files.push({ name: serviceTokenFile(course), value: token });
    return files;
  }
}
