// Wrapper module: builds the docker provider from its Go module (see bin/setup/providers.sh).
// The provider's go.mod declares "github.com/terraform-providers/terraform-provider-docker"; its repository (and so the module proxy)
// serves it as "github.com/kreuzwerker/terraform-provider-docker". The replace maps one onto the other at the pinned commit.
module jupyterhub-lti-stack.local/setup/provider-docker

go 1.25.8

require github.com/terraform-providers/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4

replace github.com/terraform-providers/terraform-provider-docker => github.com/kreuzwerker/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4
