package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/innokeda/innokeda/test/gen"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250 and stime 50 ticks.
	stat := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 500 18446744073709551615"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1")); err == nil {
		t.Fatal("a short stat line parsed")
	}
	if _, err := cpuTime(0); err != nil {
		t.Fatal(err)
	}
}

func TestParseStatus(t *testing.T) {
	m, err := parseStatus([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t3\n"))
	if err != nil || m.rss != 1<<20 || m.peak != 2<<20 {
		t.Fatalf("parseStatus = %+v, %v", m, err)
	}
	if _, err := memoryOf(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[int]time.Duration{50: 50, 90: 90, 99: 99, 100: 100} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%d = %v, want %v", p, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != 1 {
		t.Errorf("p99 of one value = %v", got)
	}
}

// TestLoad runs the generator against a TLS server that answers every AdmissionReview
// after a delay: every request is sent on schedule and answered, and the warm-up is not
// counted; with an in-flight bound below what the delay needs, the rest are not sent.
func TestLoad(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		time.Sleep(20 * time.Millisecond) // the server's work
		review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true, Warnings: []string{"dry-run returned 12"}}
		review.Request = nil
		_ = json.NewEncoder(w).Encode(review)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	reqs := make([]request, 30)
	for i := range reqs {
		var err error
		if reqs[i], err = reviewRequest(gen.ScaledObject("ns", "so", "target")); err != nil {
			t.Fatal(err)
		}
	}
	l := load{url: srv.URL, reqs: reqs, rate: 200, warmup: 10, maxInFlight: 100, timeout: 5 * time.Second, pid: os.Getpid()}
	m, err := l.run(context.Background(), ca)
	if err != nil {
		t.Fatal(err)
	}
	s := summarise(m)
	if s.total != 20 || s.sent != 20 || s.answered != 20 || s.errors != 0 || s.dryRun != 20 {
		t.Fatalf("stats %+v", s)
	}
	if s.p50 < 20*time.Millisecond || s.max > 5*time.Second {
		t.Fatalf("latencies p50 %v, max %v", s.p50, s.max)
	}

	// At 200/s, 20ms answers need about 4 in flight: with 1, most are not sent.
	l.maxInFlight, l.warmup = 1, 0
	if m, err = l.run(context.Background(), ca); err != nil {
		t.Fatal(err)
	}
	s = summarise(m)
	if s.byFailure[notSent] == 0 || s.sent+s.byFailure[notSent] != 30 || s.errors != s.byFailure[notSent] {
		t.Fatalf("with one in flight: %+v", s)
	}
}

// The latency picture holds a line per drawn step, named in its legend, through the p99
// of each rate it ran at; it is SVG, or PNG when asked.
func TestPlotLatency(t *testing.T) {
	var rows []row
	for i, name := range []string{"floor", "keda", "mutate-in", "validate", "mutate-out"} {
		for _, rate := range []int{100, 500} {
			r := row{step: step{name: name}, rate: rate}
			r.answered = 10
			r.p50, r.p90, r.p99 = time.Millisecond, 2*time.Millisecond, time.Duration(10+i)*time.Millisecond
			rows = append(rows, r)
		}
	}
	dir := t.TempDir()
	svgPath, pngPath := filepath.Join(dir, "latency.svg"), filepath.Join(dir, "latency.png")
	if err := plotLatency(svgPath, rows, []int{100, 500}); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{ XMLName xml.Name })); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	for _, want := range []string{"<svg", "p99 latency", "floor (no-op)", "KEDA&#39;s webhook", "innokeda mutate", "innokeda validate + dry-run", "requests per second"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the SVG has no %q", want)
		}
	}
	t.Logf("latency.svg: %d bytes", len(svg))
	if len(svg) > 64<<10 {
		t.Errorf("latency.svg is %d bytes: too big to keep in Git", len(svg))
	}
	if err := plotLatency(pngPath, rows, []int{100, 500}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("latency.png: %v", err)
	}
}
