package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/innokeda/innokeda/test/harness"
)

// The goals of issue 8.
const (
	mutateGoalRate    = 500
	mutateGoalRatio   = 1.15
	validateGoalRate  = 100
	validateGoalRatio = 3.0
)

func printHeader(b *bench, o options) {
	fmt.Printf("innokeda load: %s\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("machine: %s, %d cores (GOMAXPROCS %d), %s; the load generator, the API server, etcd, MariaDB and the three servers share them\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Printf("innokeda: %s; peer: KEDA v2.21.0 ScaledObject validating webhook (controller-runtime manager, cache-backed)\n", revision())
	fmt.Printf("each step: %v warm-up (not counted), then %v measured, open loop; request timeout %v; at most %d in flight\n",
		o.warmup, o.duration, o.timeout, o.maxInFlight)
	fmt.Printf("in-scope fill seen in setup: %q\n", b.mutateFills)
	fmt.Printf("dry-run seen in setup: %q\n\n", b.dryRunSay)
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\trate/s\tsent\tanswered\terrors\tp50 ms\tp90 ms\tp99 ms\tmax ms\tfilled\tdry-run\tnot-valid\tdb conns\tdb selects\tp99/floor\tcpu s\tgen cpu s\trss MiB\tpeak MiB\t")
	for _, r := range rows {
		filled, dryRun, notVal := "-", "-", "-"
		switch r.step.name {
		case "mutate-in":
			filled = fmt.Sprint(r.patched)
		case "validate":
			dryRun, notVal = fmt.Sprint(r.dryRun), fmt.Sprint(r.notVal)
		}
		ratio := "-"
		if f, ok := find(rows, "floor", r.rate); ok && f.p99 > 0 && r.answered > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.p99)/float64(f.p99))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%.2f\t%.2f\t%.1f\t%.1f\t\n",
			r.step.name, r.rate, r.sent, r.answered, r.errors, ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max),
			filled, dryRun, notVal, r.db.conns, r.db.selects, ratio, r.cpu.Seconds(), r.genCPU.Seconds(), mib(r.mem.rss), mib(r.mem.peak))
	}
	_ = tw.Flush()

	var notes []string
	for _, r := range rows {
		var parts []string
		for f := notSent; f < nFailures; f++ {
			if n := r.byFailure[f]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, failureNames[f]))
			}
		}
		if len(parts) > 0 {
			notes = append(notes, fmt.Sprintf("%s at %d/s: errors: %s; first: %s", r.step.name, r.rate, strings.Join(parts, ", "), clip(r.firstError)))
		}
		if r.denied > 0 {
			notes = append(notes, fmt.Sprintf("%s at %d/s: %d denied; first: %s", r.step.name, r.rate, r.denied, clip(r.firstDenial)))
		}
		if r.notVal > 0 {
			notes = append(notes, fmt.Sprintf("%s at %d/s: %d not validated; first: %s", r.step.name, r.rate, r.notVal, clip(r.firstNotVal)))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
}

// printGoals prints each goal MET, MISSED or NOT MEASURED (a step it needs was not run)
// and tells whether one was missed.
func printGoals(w io.Writer, rows []row, rates []int) bool {
	fmt.Fprintln(w, "\ngoals:")
	missed := false
	verdict := func(met, measured bool, text string) {
		v := "MET"
		switch {
		case !measured:
			v = "NOT MEASURED"
		case !met:
			v, missed = "MISSED", true
		}
		fmt.Fprintf(w, "  %-12s %s\n", v, text)
	}

	every := func(stepName, what string, count func(row) int) {
		var parts []string
		met, measured := true, false
		for _, rate := range rates {
			r, ok := find(rows, stepName, rate)
			if !ok {
				continue
			}
			measured = true
			met = met && r.total > 0 && count(r) == r.total
			parts = append(parts, fmt.Sprintf("%d/s %d of %d", rate, count(r), r.total))
		}
		verdict(met, measured, what+": "+strings.Join(parts, ", "))
	}
	every("mutate-in", "every in-scope mutation filled, at each rate", func(r row) int { return r.patched })
	every("validate", "every validation dry-run, at each rate", func(r row) int { return r.dryRun })

	within := func(stepName string, rate int, ratio float64, what string) {
		r, ok := find(rows, stepName, rate)
		f, fok := find(rows, "floor", rate)
		if !ok || !fok || r.answered == 0 || f.answered == 0 {
			verdict(false, false, what)
			return
		}
		got := float64(r.p99) / float64(f.p99)
		text := fmt.Sprintf("%s: p99 %s ms = %.2fx the floor's %s ms", what, ms(r.p99), got, ms(f.p99))
		if k, ok := find(rows, "keda", rate); ok && k.answered > 0 {
			text += fmt.Sprintf(", %.2fx KEDA's %s ms", float64(r.p99)/float64(k.p99), ms(k.p99))
		}
		verdict(got <= ratio, true, text)
	}
	within("mutate-in", mutateGoalRate, mutateGoalRatio, fmt.Sprintf("in-scope mutate p99 within %.2fx the floor at %d/s", mutateGoalRatio, mutateGoalRate))
	within("validate", validateGoalRate, validateGoalRatio, fmt.Sprintf("validate+dry-run p99 within %.0fx the floor at %d/s", validateGoalRatio, validateGoalRate))

	errs := 0
	for _, r := range rows {
		errs += r.errors
	}
	verdict(errs == 0, len(rows) > 0, fmt.Sprintf("0 errors: %d in %d step(s)", errs, len(rows)))
	return missed
}

func find(rows []row, stepName string, rate int) (row, bool) {
	for _, r := range rows {
		if r.step.name == stepName && r.rate == rate {
			return r, true
		}
	}
	return row{}, false
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func clip(s string) string {
	if len(s) > 240 {
		return s[:240] + "..."
	}
	return s
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// revision is the repository's commit, marked when the working tree has changes.
func revision() string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = harness.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "unknown revision"
	}
	return "commit " + strings.TrimSpace(string(out))
}
