import { Bytes } from '@cdktf/provider-random/lib/bytes';
import { Construct } from 'constructs';

export interface HubSecretsProps {
  /** Generate the LTI 1.1 consumer key and shared secret. */
  readonly lti11: boolean;
  /** Course ids; each gets an API token for its grader service. */
  readonly courses: readonly string[];
}

/** A secret file for the hub: its name under /srv/jupyterhub/secrets and its (sensitive) value. */
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
    const hex = (name: string) => new Bytes(this, name, { length: 32 }).hex;
    this.cookieSecret = hex('cookie-secret');
    this.cryptKey = hex('crypt-key');
    this.proxyToken = hex('proxy-token');
    this.idleCullerToken = hex('service-token-idle-culler');
    if (props.lti11) {
      this.lti11ConsumerKey = hex('lti11-consumer-key');
      this.lti11SharedSecret = hex('lti11-shared-secret');
    }
    for (const course of props.courses) this.serviceTokens.set(course, hex(`service-token-${course}`));
  }

  /** The API token of a course's grader service. */
  serviceToken(course: string): string {
    const token = this.serviceTokens.get(course);
    if (token === undefined) throw new Error(`no service token for course "${course}"; pass it in HubSecretsProps.courses`);
    return token;
  }

  /** The files the hub reads (images/CONTRACT.md). */
  hubFiles(): SecretFile[] {
    const files: SecretFile[] = [
      { name: 'cookie_secret', value: this.cookieSecret },
      { name: 'crypt_key', value: this.cryptKey },
      { name: 'proxy_token', value: this.proxyToken },
      { name: 'service-token-idle-culler', value: this.idleCullerToken },
    ];
    if (this.lti11ConsumerKey !== undefined && this.lti11SharedSecret !== undefined) {
      files.push({ name: 'lti11_consumer_key', value: this.lti11ConsumerKey }, { name: 'lti11_shared_secret', value: this.lti11SharedSecret });
    }
    for (const [course, token] of this.serviceTokens) files.push({ name: `service-token-${course}`, value: token });
    return files;
  }
}
