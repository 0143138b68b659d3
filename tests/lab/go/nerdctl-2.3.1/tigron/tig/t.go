// Package tig declares the one thing of tigron (nerdctl's test framework) that the
// nerdctl binary links: pkg/testutil (imported by cmd/nerdctl/helpers) takes a tig.T
// and calls Log and FailNow on it, only from test helpers the binary never runs.
// Upstream's interface has more methods; *testing.T satisfies both.
package tig

// T is the subset of testing.T that nerdctl's non-test code calls.
type T interface {
	Log(args ...any)
	FailNow()
}
