package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
	"github.com/innokeda/innokeda/webhook"
)

const (
	namespace = "load"
	cluster   = "mycluster"
	// query runs against the MariaDB standing in for the cluster's MySQL: 12 rows.
	query      = "SELECT COUNT(*) FROM testdb.testtable WHERE testcolumn2 = 'none'"
	queryValue = "3"
)

// binaries are the three servers under test, built from this repository.
type binaries struct{ innokeda, floor, keda string }

// buildBinaries builds innokeda (harness.BuildBinary), the floor and the KEDA peer into
// dir; innokeda is taken from prebuilt when set.
func buildBinaries(dir, prebuilt string) (binaries, error) {
	b := binaries{innokeda: prebuilt, floor: filepath.Join(dir, "floor"), keda: filepath.Join(dir, "kedapeer")}
	if b.innokeda == "" {
		var err error
		if b.innokeda, err = harness.BuildBinary(dir); err != nil {
			return b, err
		}
	}
	for out, pkg := range map[string]string{b.floor: "./test/load/floor", b.keda: "./test/load/kedapeer"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = harness.RepoRoot()
		if msg, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w: %s", pkg, err, msg)
		}
	}
	return b, nil
}

// target is one server under test, running as its own process.
type target struct {
	name string
	proc *harness.Process
	base string // https://127.0.0.1:port
}

// bench is everything the load steps run against.
type bench struct {
	cp                     *harness.ControlPlane
	db                     *harness.MariaDB
	floor, innokeda, keda  target
	caPEM                  []byte
	minimal, outOfScope    *kedav1alpha1.ScaledObject
	filled                 *kedav1alpha1.ScaledObject // minimal, as innokeda's mutating webhook filled it
	mutateFills, dryRunSay string                     // what the sanity checks saw, for the report
	stop                   []func()
}

func (b *bench) Stop() {
	for i := len(b.stop) - 1; i >= 0; i-- {
		b.stop[i]()
	}
}

// setUp starts the control plane, MariaDB, the annotated InnoDBCluster with the
// operator's objects and its root Secret, then innokeda, the floor and the KEDA peer,
// and checks that each answers as the steps expect.
func setUp(ctx context.Context, bins binaries) (b *bench, err error) {
	b = &bench{}
	defer func() {
		if err != nil {
			b.Stop()
		}
	}()
	logf("starting envtest (kube-apiserver, etcd) and MariaDB")
	if b.cp, err = harness.StartControlPlane(); err != nil {
		return b, err
	}
	b.stop = append(b.stop, func() { _ = b.cp.Stop() })
	b.caPEM = b.cp.Env.WebhookInstallOptions.LocalServingCAData
	if b.db, err = harness.StartMariaDB(); err != nil {
		return b, err
	}
	b.stop = append(b.stop, b.db.Stop)

	c, _, err := b.cp.Client()
	if err != nil {
		return b, err
	}
	ic := gen.InnoDBCluster(namespace, cluster)
	for _, obj := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, gen.Secret(ic, "", b.db.RootPassword), ic} {
		if err := c.Create(ctx, obj); err != nil {
			return b, fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	if _, err := harness.CreateOperatorObjects(ctx, c, ic); err != nil {
		return b, err
	}

	// No cluster DNS: the instances Service's name is mapped to MariaDB, after innokeda
	// has checked through the API server that it is the operator's Service.
	alias := innodbcluster.ServiceHost(innodbcluster.InstancesService(cluster), namespace, "cluster.local") + "=" + b.db.Addr
	logf("starting innokeda (--dry-run-host-alias %s), the floor and the KEDA peer", alias)
	if b.innokeda, err = b.start(bins.innokeda, "innokeda", b.cp.Env.WebhookInstallOptions.LocalServingPort, "--dry-run-host-alias", alias); err != nil {
		return b, err
	}
	ta := &kedav1alpha1.TriggerAuthentication{}
	taKey := client.ObjectKey{Namespace: namespace, Name: innodbcluster.ManagedTriggerAuthenticationName(cluster)}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, taKey, ta)
		return err == nil, client.IgnoreNotFound(err)
	}); err != nil {
		return b, fmt.Errorf("innokeda's controller did not create TriggerAuthentication %s: %w; log:\n%s", taKey, err, b.innokeda.proc.LogTail())
	}
	for _, t := range []struct {
		into   *target
		binary string
		name   string
	}{{&b.floor, bins.floor, "floor"}, {&b.keda, bins.keda, "keda"}} {
		port, err := harness.FreePort()
		if err != nil {
			return b, err
		}
		if *t.into, err = b.start(t.binary, t.name, port); err != nil {
			return b, err
		}
	}

	b.minimal = gen.ScaledObject(namespace, "probe", cluster, gen.WithMySQLTrigger(query, queryValue))
	b.outOfScope = gen.ScaledObject(namespace, "probe-web", "web", gen.WithTarget("apps/v1", "Deployment", "web"), gen.WithMySQLTrigger(query, queryValue))
	return b, b.check(ctx)
}

func (b *bench) start(binary, name string, port int, args ...string) (target, error) {
	p, err := harness.StartProcess(b.cp, binary, harness.Admin, port, args...)
	if err != nil {
		return target{}, fmt.Errorf("start %s: %w", name, err)
	}
	b.stop = append(b.stop, p.Stop)
	return target{name: name, proc: p, base: "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, nil
}

// check sends one request of each kind and makes sure the answer is the one a step
// counts on: innokeda fills the minimal object (retried while its cache catches up with
// the objects just created) and dry-runs the filled one, the floor and KEDA allow it.
func (b *bench) check(ctx context.Context) error {
	tr, err := newTransport(b.caPEM, 1)
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	post := func(t target, path string, so *kedav1alpha1.ScaledObject) ([]byte, answer, error) {
		req, err := reviewRequest(so)
		if err != nil {
			return nil, answer{}, err
		}
		resp, err := hc.Post(t.base+path, "application/json", bytes.NewReader(req.body))
		if err != nil {
			return nil, answer{}, err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, answer{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, answer{}, fmt.Errorf("%s%s: HTTP %d: %s", t.name, path, resp.StatusCode, body)
		}
		a, err := parseAnswer(body, req.uid)
		return body, a, err
	}

	var last string
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		body, a, err := post(b.innokeda, webhook.MutatePath, b.minimal)
		if err != nil {
			return false, err
		}
		last = fmt.Sprint(a.warnings)
		if !a.patched {
			return false, nil
		}
		b.mutateFills = firstOf(a.warnings, "")
		b.filled, err = applyPatch(b.minimal, body)
		return true, err
	}); err != nil {
		return fmt.Errorf("innokeda did not fill the in-scope ScaledObject (last warnings %s): %w; log:\n%s", last, err, b.innokeda.proc.LogTail())
	}
	if _, a, err := post(b.innokeda, webhook.MutatePath, b.outOfScope); err != nil || a.patched || !a.allowed {
		return fmt.Errorf("innokeda's answer to the out-of-scope ScaledObject: patched %v, allowed %v, %v", a.patched, a.allowed, err)
	}
	if _, a, err := post(b.innokeda, webhook.ValidatePath, storedLike(b.filled, "probe")); err != nil || !a.allowed || !a.dryRun() {
		return fmt.Errorf("innokeda did not dry-run the filled ScaledObject: allowed %v, warnings %q, message %q, %v; log:\n%s",
			a.allowed, a.warnings, a.message, err, b.innokeda.proc.LogTail())
	} else {
		b.dryRunSay = firstOf(a.warnings, "")
	}
	if _, a, err := post(b.keda, webhook.ValidatePath, storedLike(b.filled, "probe")); err != nil || !a.allowed {
		return fmt.Errorf("KEDA's webhook did not allow the filled ScaledObject: %q, %v; log:\n%s", a.message, err, b.keda.proc.LogTail())
	}
	if _, a, err := post(b.floor, webhook.MutatePath, b.minimal); err != nil || !a.allowed {
		return fmt.Errorf("the floor did not allow: %q, %v", a.message, err)
	}
	return nil
}

// dbCounters are MariaDB's own counts of connections made to it and SELECTs it ran.
type dbCounters struct{ conns, selects int64 }

func (a dbCounters) minus(b dbCounters) dbCounters {
	return dbCounters{conns: a.conns - b.conns, selects: a.selects - b.selects}
}

// dbCounters reads MariaDB's counters over the admin connection (whose SHOW is counted
// as neither).
func (b *bench) dbCounters(ctx context.Context) (dbCounters, error) {
	rows, err := b.db.Admin().QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Com_select')")
	if err != nil {
		return dbCounters{}, err
	}
	defer func() { _ = rows.Close() }()
	var c dbCounters
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return c, err
		}
		switch strings.ToLower(name) {
		case "connections":
			c.conns = n
		case "com_select":
			c.selects = n
		}
	}
	return c, rows.Err()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s load: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
