// Package integration runs innokeda against a real kube-apiserver and etcd (envtest):
// the API server calls innokeda's webhooks over TLS, as in a cluster.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/test/harness"
)

var (
	controlPlane *harness.ControlPlane
	innokeda     *harness.RunningManager
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	cp, err := harness.StartControlPlane()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	mgr, err := harness.StartManager(cp, cp.ManagerOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := mgr.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop manager:", err)
		}
	}()
	controlPlane, innokeda = cp, mgr
	return m.Run()
}

// newClient returns a client whose received warnings the test can read, and a fresh
// namespace for the test.
func newClient(t *testing.T) (client.Client, *harness.Warnings, string) {
	t.Helper()
	c, warnings, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "it-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return c, warnings, ns.Name
}
