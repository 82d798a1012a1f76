import type { ConfigInput } from './schema';

/**
 * The embedded demo: one environment on https://localhost:8443 with one course, LTI 1.1 on and a
 * self-signed certificate. Used when no config file is named, so `cdktf deploy demo` works as is.
 */
export const DEMO_CONFIG: ConfigInput = {
  version: 1,
  environments: [
    {
      name: 'demo',
      hostname: 'localhost',
      port: 8443,
      bindAddress: '127.0.0.1',
      lti11: { enabled: true },
      idleCullSeconds: 3600,
      courses: [
        {
          id: 'intro101',
          title: 'Introduction to Programming (demo)',
          contexts: ['demo-context-intro101'],
        },
      ],
    },
  ],
};
