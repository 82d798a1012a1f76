/**
 * A platform team's own cdktf app: its stack, its providers and backend, and the
 * jupyterhub-lti-stack constructs composed inside, one course added at a time.
 * `npm run synth` writes cdktf.out/stacks/teaching/cdk.tf.json.
 */
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { App, LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { PROVIDER_VERSIONS, TeachingEnvironment } from 'jupyterhub-lti-stack';

class TeachingStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The app owns providers and backend; the constructs declare none.
    new DockerProvider(this, 'docker', {});
    this.addOverride('terraform.required_providers.docker.version', PROVIDER_VERSIONS.docker);
    new TlsProvider(this, 'tls', {});
    new RandomProvider(this, 'random', {});
    new LocalBackend(this, { path: 'teaching.tfstate' });

    const physics = new TeachingEnvironment(this, 'physics', {
      name: 'physics',
      hostname: 'jupyter.physics.example.edu',
      lti13: {
        enabled: true,
        issuer: 'https://canvas.example.edu',
        clientIds: ['10000000000042'],
        authorizeUrl: 'https://canvas.example.edu/api/lti/authorize_redirect',
        jwksUrl: 'https://canvas.example.edu/api/lti/security/jwks',
      },
      limits: { memory: '1G', cpus: 0.5 },
    });
    const mechanics = physics.addCourse({ id: 'mechanics', title: 'Classical Mechanics', contexts: ['4dde05e8ca1973bcca9bffc13e1548820eee93a3'] });
    physics.addCourse({ id: 'optics', title: 'Optics', contexts: ['c0ffee'], kernels: ['python', 'r'] });
    physics.declareOutputs('physics_');

    // The constructs are ordinary cdktf constructs: reference what they created.
    new TerraformOutput(this, 'mechanics_grader_container', { value: mechanics.grader.name });
  }
}

const app = new App();
new TeachingStack(app, 'teaching');
app.synth();
