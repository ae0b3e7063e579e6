// Command demo shows innokeda at work without a cluster: it starts a real kube-apiserver
// and etcd (envtest) and a throwaway MariaDB, runs the innokeda binary against them with
// its webhooks registered over TLS, creates an InnoDBCluster shaped like the MySQL
// Operator's and a ScaledObject written the way people get it wrong, then one whose query
// returns NULL, and prints what was stored and what the client was told. It stops
// everything when done.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

func main() {
	binary := flag.String("innokeda", "bin/innokeda", "Path to the innokeda binary.")
	flag.Parse()
	if err := run(*binary); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(binary string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	step("Starting a kube-apiserver and etcd (envtest) with KEDA's CRDs and the InnoDBCluster CRD")
	cp, err := harness.StartControlPlane()
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()

	user, err := cp.Env.AddUser(envtest.User{Name: "innokeda-demo", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "innokeda-demo-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}

	step("Starting a throwaway MariaDB server with testdb.testtable, standing in for the cluster's MySQL")
	db, err := harness.StartMariaDB()
	if err != nil {
		return err
	}
	defer db.Stop()

	const ns = "mysql-cluster"
	probe, metrics := freeAddr(), freeAddr()
	wh := cp.Env.WebhookInstallOptions
	args := []string{
		"--kubeconfig", kubeconfigPath,
		"--webhook-port", strconv.Itoa(wh.LocalServingPort),
		"--webhook-cert-dir", wh.LocalServingCertDir,
		"--metrics-bind-address", metrics,
		"--health-probe-bind-address", probe,
		// No cluster DNS here: the cluster's service name is mapped to the local server.
		"--dry-run-host-alias", innodbcluster.ServiceHost(innodbcluster.InstancesService("mycluster"), ns, "cluster.local") + "=" + db.Addr,
	}
	step("Running " + binary + " " + strings.Join(args, " "))
	cmd := exec.Command(binary, args...)
	logs, err := os.Create(filepath.Join(dir, "innokeda.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	if err := waitReady(ctx, "http://"+probe+"/readyz"); err != nil {
		return fmt.Errorf("innokeda did not become ready (log: %s): %w", tail(logs.Name()), err)
	}
	fmt.Println("innokeda is ready (/readyz answered 200)")

	c, warnings, err := cp.Client()
	if err != nil {
		return err
	}
	step("Creating namespace " + ns + ", InnoDBCluster mycluster (annotated innokeda.io/autofill: \"true\"), its Secret, the StatefulSet the MySQL Operator would create, and the TriggerAuthentication mycluster-innokeda")
	cluster := gen.InnoDBCluster(ns, "mycluster")
	for _, obj := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, cluster} {
		if err := c.Create(ctx, obj); err != nil {
			return err
		}
	}
	for _, obj := range []client.Object{gen.Secret(cluster, "", db.RootPassword), gen.StatefulSet(cluster), gen.TriggerAuthentication(cluster, false)} {
		if err := c.Create(ctx, obj); err != nil {
			return err
		}
	}

	so := gen.ScaledObject(ns, "mycluster-scaler", "mycluster",
		gen.WithEnvSourceContainer(".spec.template.spec.containers[0]"),
		gen.WithMySQLTrigger("SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'", "3"))
	step("Creating this ScaledObject (no host, no credentials, no replica bounds, a wrong container name):")
	if err := printYAML(so.Spec); err != nil {
		return err
	}
	// The cache may still be catching up with the StatefulSet just created: retry until
	// innokeda has filled the object, as a user would re-apply.
	stored := &kedav1alpha1.ScaledObject{}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_ = c.Delete(ctx, so.DeepCopy())
		attempt := so.DeepCopy()
		warnings.Take()
		if err := c.Create(ctx, attempt); err != nil {
			return false, err
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
			return false, err
		}
		return stored.Annotations["innokeda.io/autofilled"] != "", nil
	})
	if err != nil {
		return fmt.Errorf("the ScaledObject was never filled (log: %s): %w", tail(logs.Name()), err)
	}
	step("The API server answered with these warnings from innokeda:")
	for _, w := range warnings.Take() {
		fmt.Println("  Warning:", w)
	}
	step("And stored this spec:")
	if err := printYAML(stored.Spec); err != nil {
		return err
	}
	fmt.Printf("annotation innokeda.io/autofilled: %s\n", stored.Annotations["innokeda.io/autofilled"])

	bad := gen.ScaledObject(ns, "null-scaler", "mycluster",
		gen.WithMySQLTrigger("SELECT price FROM testdb.testtable WHERE testcolumn = 'c'", "3"))
	step("Creating a second ScaledObject whose query returns NULL (KEDA would fail on every poll):")
	if err := printYAML(bad.Spec.Triggers); err != nil {
		return err
	}
	if err := c.Create(ctx, bad); err == nil {
		return errors.New("the NULL-returning ScaledObject was admitted")
	} else {
		fmt.Println("Error from server:", err)
	}

	step("innokeda's metrics (" + metrics + "/metrics):")
	return printMetrics("http://" + metrics + "/metrics")
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func printYAML(v any) error {
	out, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Print(string(out))
	return nil
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

func waitReady(ctx context.Context, url string) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

func printMetrics(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		if line := scanner.Text(); strings.HasPrefix(line, "innokeda_") && !strings.HasSuffix(line, " 0") && !strings.Contains(line, "_bucket") {
			fmt.Println("  " + line)
		}
	}
	return scanner.Err()
}

func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\n" + strings.Join(lines, "\n")
}
