// Package e2e runs the innokeda binary, as processes, against a real kube-apiserver: what
// a deployment does, from leader election to the RBAC it is given.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/innokeda/innokeda/test/harness"
)

var (
	controlPlane *harness.ControlPlane
	binary       string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "innokeda-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if binary, err = harness.BuildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if controlPlane, err = harness.StartControlPlane(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = controlPlane.Stop() }()
	return m.Run()
}
