import { Bytes } from '@cdktf/provider-random/lib/bytes';
import { Construct } from 'constructs';
import { SECRET_FILES, serviceTokenFile } from './contract';

export interface HubSecretsProps {
  /** Generate the LTI 1.1 consumer key and shared secret. */
  readonly lti11: boolean;
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
  private readonly serviceTokens = new Map<string, string>();

  constructor(scope: Construct, id: string, props: HubSecretsProps) {
    super(scope, id);
    this.cookieSecret = this.hex('cookie-secret');
    this.cryptKey = this.hex('crypt-key');
    this.proxyToken = this.hex('proxy-token');
    this.idleCullerToken = this.hex('service-token-idle-culler');
    if (props.lti11) {
      this.lti11ConsumerKey = this.hex('lti11-consumer-key');
      this.lti11SharedSecret = this.hex('lti11-shared-secret');
    }
  }

  private hex(id: string): string {
    return new Bytes(this, id, { length: 32 }).hex;
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
    for (const [course, token] of this.serviceTokens) files.push({ name: serviceTokenFile(course), value: token });
    return files;
  }
}
