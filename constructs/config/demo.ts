import type { ConfigInput } from './schema';

/**
 * The embedded demo: one environment on https://localhost:8443 with one course, LTI 1.1 on, a
 * self-signed certificate and the demo launcher at https://127.0.0.1:8444 (a stand-in LMS:
 * LTI 1.1 and LTI 1.3 launches as a student or an instructor, in a new window or an iframe).
 * Used when no config file is named, so `cdktf deploy demo` works as is.
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
      demoLauncher: { enabled: true },
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
