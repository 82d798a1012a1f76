// Wrapper module: builds the random provider from its Go module (see bin/setup/providers.sh).
// The provider's go.mod declares "github.com/terraform-providers/terraform-provider-random", and the
// module proxy serves the pinned commit under that (old) name, so no replace is needed.
module jupyterhub-lti-stack.local/setup/provider-random

go 1.24

require github.com/terraform-providers/terraform-provider-random v1.3.2-0.20250422105519-bc2ddb552b46
