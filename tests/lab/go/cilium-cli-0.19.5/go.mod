// Build module for the lab: github.com/cilium/cilium-cli v0.19.5 (tests/lab/go-build.sh); go.sum by go mod tidy.
module kubeforge.test/lab/cilium-cli

go 1.26.0

tool (
	github.com/cilium/cilium-cli/cmd/cilium
)

require github.com/cilium/cilium-cli v0.19.5

// as upstream go.mod
replace sigs.k8s.io/controller-tools => github.com/cilium/controller-tools v0.21.0-1
