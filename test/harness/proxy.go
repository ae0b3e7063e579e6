package harness

import (
	"io"
	"net"
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
	starts []time.Time
	open   int // connections not closed yet
	peak   int // most open at once since the last ResetPeak
}

// StartPlainProxy proxies to target at full speed until the test ends, and keeps count of
// the connections (Starts, Peak).
func StartPlainProxy(t testing.TB, target string) *SlowProxy {
	return StartSlowProxy(t, target, 64<<10, 0, 0)
}

// Starts returns when each connection was accepted, in order.
func (p *SlowProxy) Starts() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.starts...)
}

// Peak returns the most connections open at once since the last ResetPeak.
func (p *SlowProxy) Peak() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// ResetPeak starts counting the peak again from the connections open now.
func (p *SlowProxy) ResetPeak() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peak = p.open
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
		var both sync.WaitGroup
		both.Add(2)
		p.wg.Add(3)
		go func() { defer p.wg.Done(); defer both.Done(); _, _ = io.Copy(server, client); _ = server.Close() }()
		go func() { defer p.wg.Done(); defer both.Done(); p.trickle(index, client, server); _ = client.Close() }()
		go func() { defer p.wg.Done(); both.Wait(); p.mu.Lock(); p.open--; p.mu.Unlock() }()
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
	p.starts = append(p.starts, start)
	p.open++
	p.peak = max(p.peak, p.open)
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
