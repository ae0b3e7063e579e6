package harness

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// SlowProxy sits on loopback between a client and a server and hands the server's bytes
// to the client slowly: chunk bytes, then a pause, and after Stall bytes (when set)
// nothing more, with the connection left open, as a server that stops mid-result.
type SlowProxy struct {
	Addr string // where clients connect

	target string
	chunk  int
	pause  time.Duration
	stall  int
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	sent   []int // bytes handed to each client so far, in the order they connected
	spans  []Span
}

// StartPlainProxy proxies to target at full speed until the test ends, and records each
// connection's span (Spans).
func StartPlainProxy(t testing.TB, target string) *SlowProxy {
	return StartSlowProxy(t, target, 64<<10, 0, 0)
}

// Span is when a client's connection was accepted and when the client closed it (zero
// while open).
type Span struct{ Start, End time.Time }

// Spans returns the connections' spans, in the order they were accepted.
func (p *SlowProxy) Spans() []Span {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Span(nil), p.spans...)
}

// MostAtOnce returns the most connections open at once among spans, counting two as
// overlapping only when they do for longer than slack: a client that closes one
// connection and opens the next at once is seen to by the proxy a moment late.
func MostAtOnce(spans []Span, slack time.Duration) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		end := s.End
		if end.IsZero() {
			end = time.Now()
		}
		if end = end.Add(-slack); end.After(s.Start) {
			edges = append(edges, edge{s.Start, 1}, edge{end, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	open, most := 0, 0
	for _, e := range edges {
		open += e.delta
		most = max(most, open)
	}
	return most
}

// Sent returns how many bytes of the server's the i-th connection has received so far.
func (p *SlowProxy) Sent(i int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= len(p.sent) {
		return 0
	}
	return p.sent[i]
}

// StartSlowProxy proxies to target until the test ends. The client→server direction is
// passed through at full speed.
func StartSlowProxy(t testing.TB, target string, chunk int, pause time.Duration, stall int) *SlowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &SlowProxy{Addr: ln.Addr().String(), target: target, chunk: chunk, pause: pause, stall: stall, ln: ln}
	p.wg.Add(1)
	go p.accept(ln)
	t.Cleanup(p.close)
	return p
}

func (p *SlowProxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		accepted := time.Now()
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		index, ok := p.track(accepted, client, server)
		if !ok {
			return
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(server, client)
			p.mu.Lock()
			p.spans[index].End = time.Now()
			p.mu.Unlock()
			_ = server.Close()
		}()
		go func() { defer p.wg.Done(); p.trickle(index, client, server); _ = client.Close() }()
	}
}

// track records a pair of connections accepted at start, to close at the end, and
// returns its index; false once the proxy is closed.
func (p *SlowProxy) track(start time.Time, conns ...net.Conn) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			_ = c.Close()
		}
		return 0, false
	}
	p.conns = append(p.conns, conns...)
	p.sent = append(p.sent, 0)
	p.spans = append(p.spans, Span{Start: start})
	return len(p.sent) - 1, true
}

// trickle copies from server to client a chunk at a time, stopping at the stall point.
func (p *SlowProxy) trickle(index int, client, server net.Conn) {
	buf := make([]byte, p.chunk)
	sent := 0
	for {
		want := p.chunk
		if p.stall > 0 {
			if sent >= p.stall {
				// Hold the connection open without sending, until it is closed.
				_, _ = io.Copy(io.Discard, server)
				return
			}
			want = min(want, p.stall-sent)
		}
		n, err := server.Read(buf[:want])
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
			sent += n
			p.mu.Lock()
			p.sent[index] = sent
			p.mu.Unlock()
			time.Sleep(p.pause) // the point of the proxy: a slow link
		}
		if err != nil {
			return
		}
	}
}

func (p *SlowProxy) close() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
}
