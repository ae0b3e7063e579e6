// Command load measures innokeda's admission webhooks under load, against a no-op
// controller-runtime webhook (the floor) and KEDA's own ScaledObject webhook (a peer), all
// on this machine, in one run:
//
//	go run ./test/load [-duration 5s] [-rates 100,500,1000] [-strict]
//	go run ./test/load -scale [-scale-clusters 5000 ...]
//
// It starts envtest's kube-apiserver and etcd, a MariaDB, an annotated InnoDBCluster with
// the MySQL Operator's objects, and three servers, each its own process serving HTTPS on
// loopback with envtest's serving certificate: innokeda (the real binary), the floor and
// the KEDA peer. Then, step by step, it sends each one AdmissionReviews shaped like the
// API server's, open loop (on a fixed schedule, not waiting for answers), at each rate for
// a fixed duration after a warm-up, and reports per step the latencies, the errors, what
// the answers said, and the target process's CPU time and memory from /proc. Last, the
// goals, MET or MISSED.
//
// -scale instead fills the API server with thousands of InnoDBClusters, StatefulSets and
// Secrets, starts innokeda and reports how long it takes to be ready and to serve from
// its cache, and how much memory it holds.
//
// It exits non-zero when setup fails, or with -strict when a goal is missed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"go.uber.org/zap/zapcore"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/innokeda/innokeda/webhook"
)

type options struct {
	duration, warmup, timeout time.Duration
	rates                     []int
	maxInFlight               int
	steps                     []string
	strict                    bool
	innokeda                  string
	scale                     bool
	scaleOpts                 scaleOptions
	// plots is the directory the pictures are written to, as plotFormat; empty writes none.
	plots, plotFormat string
}

func main() {
	o := options{}
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "How long each step is measured, at each rate.")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "How long each step sends, at its rate, before it starts counting.")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "A request not answered within this is an error (the API server's webhook timeout at most).")
	rates := flag.String("rates", "100,500,1000", "Request rates, per second, comma-separated.")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 2000, "Most requests awaiting an answer; a request due while this many are is not sent, and counted as an error.")
	steps := flag.String("steps", strings.Join(stepNames(), ","), "Which steps to run, comma-separated.")
	flag.BoolVar(&o.strict, "strict", false, "Exit non-zero when a goal is missed (without it, only a failed setup does).")
	flag.StringVar(&o.innokeda, "innokeda", "", "A prebuilt innokeda binary; empty builds ./cmd/innokeda.")
	flag.BoolVar(&o.scale, "scale", false, "Run the scale measurement instead of the load steps.")
	flag.StringVar(&o.plots, "plots", "", "A directory to write the pictures to: latency.svg of the load steps, scale.svg of the scale run; empty writes none.")
	flag.StringVar(&o.plotFormat, "plot-format", "svg", "The pictures' format: svg or png.")
	o.scaleOpts.bindFlags(flag.CommandLine)
	flag.Parse()

	var err error
	if o.rates, err = parseRates(*rates); err != nil {
		fail(err)
	}
	if o.steps, err = parseSteps(*steps); err != nil {
		fail(err)
	}
	if o.plotFormat != "svg" && o.plotFormat != "png" {
		fail(fmt.Errorf("-plot-format must be svg or png, not %q", o.plotFormat))
	}
	if o.duration <= 0 || o.warmup < 0 || o.timeout <= 0 || o.maxInFlight < 1 {
		fail(errors.New("-duration and -timeout must be positive, -warmup not negative, -max-in-flight at least 1"))
	}

	// The clients and envtest log through controller-runtime: errors only, to stderr.
	crlog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var missed bool
	if o.scale {
		missed, err = runScale(ctx, o.innokeda, o.scaleOpts, o.plots, o.plotFormat)
	} else {
		missed, err = runLoad(ctx, o)
	}
	stop()
	if err != nil {
		fail(err)
	}
	if missed && o.strict {
		fmt.Fprintln(os.Stderr, "load: a goal was missed (-strict)")
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(2)
}

// step is one kind of request sent to one target.
type step struct {
	name, what string
	target     func(*bench) target
	path       string
	object     func(b *bench, name string) *kedav1alpha1.ScaledObject
}

var allSteps = []step{
	{"floor", "no-op controller-runtime webhook", func(b *bench) target { return b.floor }, webhook.MutatePath, minimalNamed},
	{"mutate-in", "innokeda mutate, in scope (minimal ScaledObject of the annotated cluster)", func(b *bench) target { return b.innokeda }, webhook.MutatePath, minimalNamed},
	{"mutate-out", "innokeda mutate, out of scope (a Deployment target)", func(b *bench) target { return b.innokeda }, webhook.MutatePath,
		func(b *bench, name string) *kedav1alpha1.ScaledObject {
			so := b.outOfScope.DeepCopy()
			so.Name = name
			return so
		}},
	{"validate", "innokeda validate of the filled ScaledObject, query dry-run against MariaDB", func(b *bench) target { return b.innokeda }, webhook.ValidatePath, filledNamed},
	{"keda", "KEDA v2.21.0's validating webhook, same filled ScaledObject", func(b *bench) target { return b.keda }, webhook.ValidatePath, filledNamed},
}

func minimalNamed(b *bench, name string) *kedav1alpha1.ScaledObject {
	so := b.minimal.DeepCopy()
	so.Name = name
	return so
}

func filledNamed(b *bench, name string) *kedav1alpha1.ScaledObject { return storedLike(b.filled, name) }

func stepNames() []string {
	var names []string
	for _, s := range allSteps {
		names = append(names, s.name)
	}
	return names
}

func parseSteps(s string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, st := range allSteps {
			found = found || st.name == n
		}
		if !found {
			return nil, fmt.Errorf("unknown step %q; the steps are %s", n, strings.Join(stepNames(), ", "))
		}
		names = append(names, n)
	}
	return names, nil
}

func parseRates(s string) ([]int, error) {
	var rates []int
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 {
			return nil, fmt.Errorf("-rates: %q is not a rate per second", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// row is one (step, rate) measurement.
type row struct {
	step step
	rate int
	stats
	db dbCounters // what MariaDB did during the step, warm-up included
}

// runLoad sets up, runs every step at every rate, prints the report and tells whether a
// goal was missed.
func runLoad(ctx context.Context, o options) (bool, error) {
	// Every step is bounded: its requests, and its wait for the last answers.
	perStep := o.warmup + o.duration + o.timeout + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute+time.Duration(len(o.steps)*len(o.rates))*perStep)
	defer cancel()

	dir, err := os.MkdirTemp("", "innokeda-load-")
	if err != nil {
		return false, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	logf("building innokeda, the floor and the KEDA peer")
	bins, err := buildBinaries(dir, o.innokeda)
	if err != nil {
		return false, err
	}
	b, err := setUp(ctx, bins)
	if err != nil {
		return false, err
	}
	defer b.Stop()

	var rows []row
	for _, name := range o.steps {
		var st step
		for _, s := range allSteps {
			if s.name == name {
				st = s
			}
		}
		for _, rate := range o.rates {
			r, err := runStep(ctx, b, st, rate, o)
			if err != nil {
				return false, fmt.Errorf("step %s at %d/s: %w", st.name, rate, err)
			}
			rows = append(rows, r)
		}
	}
	printHeader(b, o)
	printTable(os.Stdout, rows)
	missed := printGoals(os.Stdout, rows, o.rates)
	if o.plots != "" {
		path := filepath.Join(o.plots, "latency."+o.plotFormat)
		if err := plotLatency(path, rows, o.rates); err != nil {
			return missed, fmt.Errorf("plot the latencies: %w", err)
		}
		fmt.Printf("\nwrote %s\n", path)
	}
	return missed, nil
}

func runStep(ctx context.Context, b *bench, st step, rate int, o options) (row, error) {
	t := st.target(b)
	warmup := int(int64(rate) * int64(o.warmup) / int64(time.Second))
	n := warmup + int(int64(rate)*int64(o.duration)/int64(time.Second))
	reqs := make([]request, n)
	for i := range reqs {
		var err error
		if reqs[i], err = reviewRequest(st.object(b, fmt.Sprintf("%s-%d-%06d", st.name, rate, i))); err != nil {
			return row{}, err
		}
	}
	l := load{url: t.base + st.path, reqs: reqs, rate: rate, warmup: warmup, maxInFlight: o.maxInFlight, timeout: o.timeout, pid: t.proc.Pid()}
	db0, err := b.dbCounters(ctx)
	if err != nil {
		return row{}, err
	}
	m, err := l.run(ctx, b.caPEM)
	if err != nil {
		return row{}, err
	}
	db1, err := b.dbCounters(ctx)
	if err != nil {
		return row{}, err
	}
	r := row{step: st, rate: rate, stats: summarise(m), db: db1.minus(db0)}
	logf("%-10s %5d/s: %d sent, %d answered, %d errors, p99 %s ms", st.name, rate, r.sent, r.answered, r.errors, ms(r.p99))
	return r, nil
}
