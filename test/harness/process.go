package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Process is the innokeda binary running against a ControlPlane.
type Process struct {
	WebhookPort int
	MetricsAddr string // host:port of /metrics
	ProbeAddr   string // host:port of /healthz and /readyz
	LogPath     string
	cmd         *exec.Cmd
	exited      chan struct{} // closed when the process has exited
	dir         string
}

// BuildBinary builds cmd/innokeda into dir and returns its path.
func BuildBinary(dir string) (string, error) {
	out := filepath.Join(dir, "innokeda")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/innokeda")
	cmd.Dir = RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, b)
	}
	return out, nil
}

// Admin is a user with every right.
var Admin = envtest.User{Name: "innokeda-admin", Groups: []string{"system:masters"}}

// StartProcess runs binary against cp as user, serving webhooks on webhookPort with the
// control plane's serving certificate, metrics and probes on free loopback ports, plus
// args. It returns once /readyz answers 200.
func StartProcess(cp *ControlPlane, binary string, user envtest.User, webhookPort int, args ...string) (*Process, error) {
	dir, err := os.MkdirTemp("", "innokeda-process-")
	if err != nil {
		return nil, err
	}
	p := &Process{WebhookPort: webhookPort, LogPath: filepath.Join(dir, "innokeda.log"), dir: dir, exited: make(chan struct{})}
	kubeconfigPath, err := cp.KubeconfigFile(user, dir)
	if err != nil {
		return nil, err
	}
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	p.MetricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	p.ProbeAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	logs, err := os.Create(p.LogPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logs.Close() }()
	p.cmd = exec.Command(binary, append([]string{
		"--kubeconfig", kubeconfigPath,
		"--webhook-port", strconv.Itoa(webhookPort),
		"--webhook-cert-dir", cp.Env.WebhookInstallOptions.LocalServingCertDir,
		"--metrics-bind-address", p.MetricsAddr,
		"--health-probe-bind-address", p.ProbeAddr,
	}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.exited:
			return false, fmt.Errorf("innokeda exited: %v", p.cmd.ProcessState)
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.ProbeAddr+"/readyz", nil)
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
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("innokeda did not become ready: %w; log:\n%s", err, p.LogTail())
	}
	return p, nil
}

// Metrics returns the lines of /metrics that start with prefix.
func (p *Process) Metrics(prefix string) ([]string, error) {
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, prefix) {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// ScrapeTLS gets /metrics over HTTPS, as a scraper with bearer token (none when empty)
// does, and returns the status code and the body.
func (p *Process) ScrapeTLS(tlsConfig *tls.Config, token string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.MetricsAddr+"/metrics", nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer httpClient.CloseIdleConnections()
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	if _, err := io.Copy(&b, io.LimitReader(resp.Body, 16<<20)); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, b.String(), nil
}

// LogTail returns the last lines the process logged.
func (p *Process) LogTail() string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// Stop ends the process and removes its files.
func (p *Process) Stop() {
	terminate(p.cmd.Process, p.exited, 10*time.Second)
	_ = os.RemoveAll(p.dir)
}

// terminate sends SIGTERM, and SIGKILL when the process has not exited after grace.
func terminate(process *os.Process, exited <-chan struct{}, grace time.Duration) {
	_ = process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = process.Kill()
		<-exited
	}
}
