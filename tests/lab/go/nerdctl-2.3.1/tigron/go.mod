// Lab stand-in for github.com/containerd/nerdctl/mod/tigron (see ../go.mod): only
// what the nerdctl binary links from it. Written for kubeforge's lab, not upstream code.
module github.com/containerd/nerdctl/mod/tigron

go 1.23.0
