// Package packaging checks the Helm chart and the Kustomize overlays the way a cluster
// would: rendered by the pinned helm and kustomize (tools/packaging), then every object
// sent to a real API server as a server-side dry run, and the parts that must agree with
// the binary and with kustomize/base checked against them.
package packaging

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/test/harness"
)

var controlPlane *harness.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if controlPlane, err = harness.StartControlPlane(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = controlPlane.Stop() }()
	return m.Run()
}

// toolCommand is helm, kustomize or helm-docs at the version tools/packaging pins.
func toolCommand(root, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", append([]string{"tool", "-modfile=" + filepath.Join(root, "tools", "packaging", "go.mod"), name}, args...)...)
	cmd.Dir = root
	return cmd
}

// tool runs helm or kustomize at the version tools/packaging pins.
func tool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := toolCommand(harness.RepoRoot(), name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

func decode(t *testing.T, manifests []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := harness.DecodeManifests(manifests)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func decodeFile(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), path))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, data)
}

// dryRunCreate sends every object to the API server as a server-side dry run, in a
// namespace that exists. cert-manager's kinds are left out: the test cluster has no
// cert-manager CRDs.
func dryRunCreate(t *testing.T, ns string, objs []*unstructured.Unstructured) {
	t.Helper()
	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GroupVersionKind().Group == "cert-manager.io" {
			continue
		}
		if err := c.Create(ctx, o.DeepCopy(), client.DryRunAll); client.IgnoreAlreadyExists(err) != nil {
			t.Errorf("the API server refuses %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// parseArgs parses a container's args with the innokeda binary's own flags.
func parseArgs(t *testing.T, args []string) app.Options {
	t.Helper()
	o, _ := parseFlags(t, args)
	return o
}

func parseFlags(t *testing.T, args []string) (app.Options, *flag.FlagSet) {
	t.Helper()
	o := app.DefaultOptions()
	fs := flag.NewFlagSet("innokeda", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("innokeda does not accept the args %q: %v", args, err)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("args %q: %v", args, err)
	}
	return o, fs
}

// secretWriteRule is what managed scaler accounts add to the ClusterRole, beside the
// base's get on secrets.
var secretWriteRule = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "update", "delete"}}

// argValue is the value of the last --name=VALUE in args (for a repeated flag, the last
// one wins), and whether args have one.
func argValue(args []string, name string) (string, bool) {
	var value string
	var found bool
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			value, found = v, true
		}
	}
	return value, found
}

// checkAuditArgs checks a container's continuous-audit flags, as written in its args.
func checkAuditArgs(t *testing.T, args []string, interval, rate, clusterRate string) {
	t.Helper()
	for _, f := range []struct{ flag, want string }{{"audit-interval", interval}, {"audit-rate", rate}, {"audit-cluster-rate", clusterRate}} {
		if got, found := argValue(args, f.flag); !found || got != f.want {
			t.Errorf("--%s=%s (given: %t), want %s; args %q", f.flag, got, found, f.want, args)
		}
	}
}
