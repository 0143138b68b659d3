// Build module for the lab: github.com/cilium/cilium-cli v0.19.5 (tests/lab/go-build.sh); go.sum by go mod tidy.
//
// NOT BUILT (not in go-build.sh's COMPONENTS): the module proxy cannot serve it.
// cilium-cli v0.19.5's main package imports github.com/cilium/cilium/cilium-cli/cli
// from github.com/cilium/cilium v1.20.0-pre.3.0.20260624181020-42e441ad7d2b, whose
// .info and .mod the proxy refuses (403; only its .zip is served, which the go
// command cannot use without the .mod). From v1.20.0-rc.0 on, cilium-cli/ is a
// nested module of the cilium repository (github.com/cilium/cilium/cilium-cli: 404),
// so v1.20.x's module zips leave it out; cilium-cli v0.19.6 (.mod/.zip) and v0.19.7
// (kubeforge's default) are refused (403). Checked 2026-12-06.
module kubeforge.test/lab/cilium-cli

go 1.26.0

tool (
	github.com/cilium/cilium-cli/cmd/cilium
)

require github.com/cilium/cilium-cli v0.19.5

// as upstream go.mod
replace sigs.k8s.io/controller-tools => github.com/cilium/controller-tools v0.21.0-1
