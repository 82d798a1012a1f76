//go:build tools

// Package tools only records the provider's main package as a dependency of this
// wrapper module so that "go mod tidy" / "go build <path>" can resolve it.
package tools

import _ "github.com/terraform-providers/terraform-provider-docker"
