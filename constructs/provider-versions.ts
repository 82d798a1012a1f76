import { VERSIONS } from './versions';

/**
 * Provider versions the synthesized stacks require, pinned exactly (images/versions.json).
 *
 * tls and random are the versions the prebuilt @cdktf bindings were generated for. The docker
 * provider is not: its bindings target 3.6.2, but the Go module proxy this project can build
 * from serves no 3.x commit of it (every 3.x version answers 403), only a commit after v4.6.0.
 * The stacks therefore require docker 4.6.0, and `terraform validate` in the terraform tier
 * checks the JSON the 3.6.2 bindings emit against the real 4.6.0 schema.
 */
export const PROVIDER_VERSIONS = VERSIONS.providers;
