package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Why a request did not get an answer.
type failure int

const (
	ok        failure = iota
	notSent           // the in-flight bound was reached at its time
	transport         // connection, TLS or HTTP error
	timedOut          // no answer within the request timeout
	badStatus         // an HTTP status other than 200
	badAnswer         // 200, but not an AdmissionReview answering this request
	nFailures
)

var failureNames = [nFailures]string{"", "not sent", "transport", "timeout", "non-200", "bad answer"}

// outcome is what became of one request.
type outcome struct {
	failure failure
	latency time.Duration // from the request's scheduled time to the end of the answer
	answer  answer
	detail  string // the first error's text, for the report
}

// load is one step's schedule: reqs[i] is sent at start + i/rate, whether or not earlier
// ones have been answered (open loop). The first warmup requests are sent but not counted.
type load struct {
	url         string
	reqs        []request
	rate        int
	warmup      int
	maxInFlight int
	timeout     time.Duration
	pid         int // the target process, for its CPU time
}

// measured is what a step observed over its counted requests.
type measured struct {
	outcomes []outcome
	cpu      time.Duration // the target's CPU time from the first counted request to the last answer
	genCPU   time.Duration // the load tool's own, over the same span
	span     time.Duration // wall time of the same span
	mem      memory        // the target's, at the end
}

// newTransport is a client transport like the API server's to a webhook: TLS verified
// against the serving certificate's CA, HTTP/1.1 with keep-alive. Idle connections are
// kept up to the in-flight bound so that a step's connections are reused, not redialed.
func newTransport(caPEM []byte, maxInFlight int) (*http.Transport, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in the envtest serving CA data")
	}
	return &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        maxInFlight,
		MaxIdleConnsPerHost: maxInFlight,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
	}, nil
}

// run sends l's requests on schedule over a fresh transport and waits for every answer
// (each bounded by l.timeout).
func (l load) run(ctx context.Context, caPEM []byte) (measured, error) {
	tr, err := newTransport(caPEM, l.maxInFlight)
	if err != nil {
		return measured{}, err
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	outcomes := make([]outcome, len(l.reqs))
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	var cpu0, gen0 time.Duration
	var t0 time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now().Add(10 * time.Millisecond)
	for i, req := range l.reqs {
		due := start.Add(time.Duration(int64(i) * int64(time.Second) / int64(l.rate)))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				wg.Wait()
				return measured{}, ctx.Err()
			case <-timer.C:
			}
		}
		if i == l.warmup {
			if cpu0, err = cpuTime(l.pid); err != nil {
				wg.Wait()
				return measured{}, fmt.Errorf("read the target's CPU time: %w", err)
			}
			gen0, _ = cpuTime(0)
			t0 = due
		}
		if inFlight.Load() >= int64(l.maxInFlight) {
			outcomes[i] = outcome{failure: notSent, detail: fmt.Sprintf("%d requests in flight", l.maxInFlight)}
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			outcomes[i] = send(ctx, client, l.url, req, due, l.timeout)
		}()
	}
	wg.Wait()
	m := measured{outcomes: outcomes[l.warmup:], span: time.Since(t0)}
	cpu1, err := cpuTime(l.pid)
	if err != nil {
		return m, fmt.Errorf("read the target's CPU time: %w", err)
	}
	gen1, _ := cpuTime(0)
	m.cpu, m.genCPU = cpu1-cpu0, gen1-gen0
	if m.mem, err = memoryOf(l.pid); err != nil {
		return m, fmt.Errorf("read the target's memory: %w", err)
	}
	return m, ctx.Err()
}

// send posts one AdmissionReview and reads its answer. Latency counts from due, the
// time the schedule set for the request, so that a late start (the generator or the
// connection pool falling behind) is counted, as an API server's caller would feel it.
func send(ctx context.Context, client *http.Client, url string, req request, due time.Time, timeout time.Duration) outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req.body))
	if err != nil {
		return outcome{failure: transport, detail: err.Error()}
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	resp, err := client.Do(r)
	if err != nil {
		return failed(ctx, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	_ = resp.Body.Close()
	if err != nil {
		return failed(ctx, err)
	}
	latency := time.Since(due)
	if resp.StatusCode != http.StatusOK {
		return outcome{failure: badStatus, latency: latency, detail: fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, body)}
	}
	a, err := parseAnswer(body, req.uid)
	if err != nil {
		return outcome{failure: badAnswer, latency: latency, detail: err.Error()}
	}
	return outcome{latency: latency, answer: a}
}

func failed(ctx context.Context, err error) outcome {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return outcome{failure: timedOut, detail: err.Error()}
	}
	return outcome{failure: transport, detail: err.Error()}
}

// stats summarises a step's outcomes.
type stats struct {
	total                    int // the requests counted: sent, or due but not sent
	sent, answered, errors   int
	byFailure                [nFailures]int
	firstError               string
	p50, p90, p99, max       time.Duration
	patched, dryRun, notVal  int
	denied                   int
	cpu, genCPU, span        time.Duration
	mem                      memory
	firstDenial, firstNotVal string
}

func summarise(m measured) stats {
	s := stats{total: len(m.outcomes), cpu: m.cpu, genCPU: m.genCPU, span: m.span, mem: m.mem}
	var latencies []time.Duration
	for _, o := range m.outcomes {
		if o.failure != notSent {
			s.sent++
		}
		if o.failure != ok {
			s.errors++
			s.byFailure[o.failure]++
			if s.firstError == "" {
				s.firstError = failureNames[o.failure] + ": " + o.detail
			}
			continue
		}
		s.answered++
		latencies = append(latencies, o.latency)
		a := o.answer
		if a.patched {
			s.patched++
		}
		if a.dryRun() {
			s.dryRun++
		}
		if a.notValidated() {
			s.notVal++
			if s.firstNotVal == "" {
				s.firstNotVal = firstOf(a.warnings, a.message)
			}
		}
		if !a.allowed {
			s.denied++
			if s.firstDenial == "" {
				s.firstDenial = a.message
			}
		}
	}
	slices.Sort(latencies)
	s.p50, s.p90, s.p99 = percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99)
	if len(latencies) > 0 {
		s.max = latencies[len(latencies)-1]
	}
	return s
}

// percentile is the nearest-rank percentile p of sorted: the smallest value at or above
// which p% of the values lie.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

func firstOf(warnings []string, message string) string {
	for _, w := range warnings {
		if w != "" {
			return w
		}
	}
	return message
}
