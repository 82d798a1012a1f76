import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { SelfSignedCert } from '@cdktf/provider-tls/lib/self-signed-cert';
import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { relative } from 'node:path';
import type { ResolvedTls } from './config/rules';
import { IPV4_PATTERN } from './contract';
import { hasTemplateSequence } from './terraform-text';

export interface StackTlsProps {
  readonly tls: ResolvedTls;
  readonly hostname: string;
  /**
   * Directory Terraform runs in, for paths of provided files (kept relative so the synthesized
   * JSON does not depend on where the project lives).
   */
  readonly stackDir: string;
}

/**
 * The proxy's certificate: self-signed from the tls provider (ECDSA P-256/P-384 or RSA >= 3072,
 * hostname in the SANs), or the operator's own files read by Terraform at plan time, so the
 * private key never enters cdktf.out.
 */
export class StackTls extends Construct {
  readonly certificatePem: string;
  /** Sensitive in Terraform. */
  readonly privateKeyPem: string;

  constructor(scope: Construct, id: string, props: StackTlsProps) {
    super(scope, id);
    const { tls, hostname } = props;
    if (tls.mode === 'provided') {
      this.certificatePem = Fn.file(terraformPath(props.stackDir, tls.certFile as string));
      this.privateKeyPem = Fn.sensitive(Fn.file(terraformPath(props.stackDir, tls.keyFile as string)));
      return;
    }
    const key = new PrivateKey(this, 'key', tls.algorithm === 'ECDSA' ? { algorithm: 'ECDSA', ecdsaCurve: tls.ecdsaCurve } : { algorithm: 'RSA', rsaBits: tls.rsaBits });
    const isIp = new RegExp(IPV4_PATTERN).test(hostname);
    const cert = new SelfSignedCert(this, 'cert', {
      privateKeyPem: key.privateKeyPem,
      subject: [{ commonName: hostname, organization: 'jupyterhub-lti-stack' }],
      dnsNames: isIp ? [] : [hostname],
      ipAddresses: isIp ? [hostname] : hostname === 'localhost' ? ['127.0.0.1'] : [],
      validityPeriodHours: tls.validityDays * 24,
      earlyRenewalHours: Math.min(30 * 24, Math.floor((tls.validityDays * 24) / 4)),
      allowedUses: ['digital_signature', 'key_encipherment', 'server_auth'],
    });
    this.certificatePem = cert.certPem;
    this.privateKeyPem = key.privateKeyPem;
  }
}

/** A file path as Terraform's file() reads it: relative to the stack directory, and never code. */
function terraformPath(stackDir: string, file: string): string {
  const path = relative(stackDir, file);
  // eslint-disable-next-line no-control-regex
  if (hasTemplateSequence(path) || /["\\\u0000-\u001f]/.test(path)) {
    throw new Error(`the path ${JSON.stringify(path)} (from ${file}) contains characters Terraform would read as code; move the file or the project to a path without "\${", "%{", quotes or backslashes`);
  }
  return path;
}
