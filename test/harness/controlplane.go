// Package harness starts the real servers innokeda's integration tests run against: a
// kube-apiserver and etcd through envtest, with KEDA's CRDs, the InnoDBCluster CRD and
// innokeda's own webhook configurations installed, and the innokeda manager serving
// those webhooks over TLS.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/innokeda/innokeda/internal/app"
)

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ControlPlane is a running kube-apiserver and etcd.
type ControlPlane struct {
	Env    *envtest.Environment
	Config *rest.Config
}

// StartControlPlane starts envtest. The binaries come from KUBEBUILDER_ASSETS, or are
// built from Go modules by hack/envtest-assets.sh (once; later runs reuse them).
func StartControlPlane() (*ControlPlane, error) {
	if err := serversAllowed("an API server"); err != nil {
		return nil, err
	}
	root := RepoRoot()
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	kedaCRDs, err := kedaCRDDir(root)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{kedaCRDs, filepath.Join(root, "test", "fixtures", "crds")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join(root, "kustomize", "base", "webhook.yaml")},
			LocalServingHost: "127.0.0.1",
		},
	}
	if RaceEnabled {
		// The race detector slows the manager tenfold, and the webhooks'
		// failurePolicy: Ignore would then store what a timeout cut short: the tests
		// would measure the detector, not innokeda. The shipped timeout is sized for
		// the speed the benchmarks and the load tool measure without it.
		if err := env.WebhookInstallOptions.PrepWithoutInstalling(); err != nil {
			return nil, fmt.Errorf("read the webhook configurations: %w", err)
		}
		env.WebhookInstallOptions.Paths = nil
		for i := range env.WebhookInstallOptions.MutatingWebhooks {
			for j := range env.WebhookInstallOptions.MutatingWebhooks[i].Webhooks {
				env.WebhookInstallOptions.MutatingWebhooks[i].Webhooks[j].TimeoutSeconds = ptr.To(raceWebhookTimeoutSeconds)
			}
		}
		for i := range env.WebhookInstallOptions.ValidatingWebhooks {
			for j := range env.WebhookInstallOptions.ValidatingWebhooks[i].Webhooks {
				env.WebhookInstallOptions.ValidatingWebhooks[i].Webhooks[j].TimeoutSeconds = ptr.To(raceWebhookTimeoutSeconds)
			}
		}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	return &ControlPlane{Env: env, Config: cfg}, nil
}

// raceWebhookTimeoutSeconds is the webhooks' timeoutSeconds under the race detector: the
// most the API server allows.
const raceWebhookTimeoutSeconds int32 = 30

// StartBareControlPlane starts envtest with no CRDs and no webhook configurations: a
// cluster where neither KEDA nor the MySQL Operator is installed.
func StartBareControlPlane() (*ControlPlane, error) {
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	return &ControlPlane{Env: env, Config: cfg}, nil
}

// assetsDir is where envtest's binaries are: KUBEBUILDER_ASSETS, or built from Go modules
// by hack/envtest-assets.sh (once; later runs reuse them).
func assetsDir() (string, error) {
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		return assets, nil
	}
	out, err := exec.Command(filepath.Join(RepoRoot(), "hack", "envtest-assets.sh")).Output()
	if err != nil {
		return "", fmt.Errorf("build envtest binaries with hack/envtest-assets.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// KubeconfigFile writes a kubeconfig for user into dir and returns its path.
func (cp *ControlPlane) KubeconfigFile(user envtest.User, dir string) (string, error) {
	authenticated, err := cp.Env.AddUser(user, nil)
	if err != nil {
		return "", err
	}
	data, err := authenticated.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// Stop stops the API server and etcd.
func (cp *ControlPlane) Stop() error { return cp.Env.Stop() }

// kedaCRDDir finds config/crd/bases in the KEDA module the project depends on, so the
// CRDs always match the Go types.
func kedaCRDDir(root string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kedacore/keda/v2")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate the KEDA module: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "bases"), nil
}

// ManagerOptions are innokeda's options for serving this control plane's webhooks on
// loopback, with metrics, probes and the audit off (its dry-runs would share the
// webhook's slots with the test's; the audit's tests turn it on).
func (cp *ControlPlane) ManagerOptions() app.Options {
	o := app.DefaultOptions()
	wh := cp.Env.WebhookInstallOptions
	o.WebhookHost, o.WebhookPort, o.WebhookCertDir = wh.LocalServingHost, wh.LocalServingPort, wh.LocalServingCertDir
	o.MetricsBindAddress, o.HealthProbeBindAddress = "0", "0"
	o.AuditInterval = 0
	o.SeveralManagers = true
	return o
}

// RunningManager is an innokeda manager started by StartManager.
type RunningManager struct {
	manager.Manager
	cancel context.CancelFunc
	done   chan error
}

// StartManager builds the innokeda manager exactly as the binary does and starts it. It
// returns once the webhook server accepts connections and the cache has synced.
func StartManager(cp *ControlPlane, o app.Options) (*RunningManager, error) {
	mgr, err := app.NewManager(cp.Config, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	rm := &RunningManager{Manager: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { rm.done <- mgr.Start(ctx) }()

	started := mgr.GetWebhookServer().StartedChecker()
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		select {
		case err := <-rm.done:
			return false, fmt.Errorf("manager stopped: %w", err)
		default:
		}
		return started(nil) == nil, nil
	})
	if err == nil && !mgr.GetCache().WaitForCacheSync(ctx) {
		err = errors.New("cache did not sync")
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("wait for the manager: %w", err)
	}
	return rm, nil
}

// Stop stops the manager and waits for it.
func (rm *RunningManager) Stop() error {
	rm.cancel()
	return <-rm.done
}

// Warnings records the warnings the API server sent to one client.
type Warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *Warnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// Take returns the warnings received since the last call and forgets them.
func (w *Warnings) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.list
	w.list = nil
	return list
}

// Client returns a client of the control plane that records the warnings it receives.
func (cp *ControlPlane) Client() (client.Client, *Warnings, error) {
	scheme, err := app.NewScheme()
	if err != nil {
		return nil, nil, err
	}
	w := &Warnings{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	return c, w, err
}

// WithServers starts a control plane and a MariaDB server, runs run with them, stops both
// and returns run's exit code (1 when a server did not start): the body of a TestMain.
func WithServers(run func(*ControlPlane, *MariaDB) int) int {
	cp, err := StartControlPlane()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	db, err := StartMariaDB()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Stop()
	return run(cp, db)
}
