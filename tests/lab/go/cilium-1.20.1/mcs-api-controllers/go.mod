// Lab stand-in for sigs.k8s.io/mcs-api/controllers (see ../go.mod): only what
// cilium-operator links from it. Written for kubeforge's lab, not upstream code.
module sigs.k8s.io/mcs-api/controllers

go 1.23.0
