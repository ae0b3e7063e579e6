package audit

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

var (
	orders  = types.NamespacedName{Namespace: "db", Name: "orders"}
	billing = types.NamespacedName{Namespace: "db", Name: "billing"}
)

func so(name string) types.NamespacedName { return types.NamespacedName{Namespace: "db", Name: name} }

// One cluster's ScaledObjects falling due at once get turns one 1/rate apart; another
// cluster's are not held behind them.
func TestEachClusterGetsItsTurnsAtItsRate(t *testing.T) {
	p := newClusterPacer(0.5) // one turn every 2 s
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for i, want := range []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second} {
		if got := p.wait(orders, so(fmt.Sprint("orders-", i)), t0); got != want {
			t.Errorf("ScaledObject %d of orders waits %v, want %v", i, got, want)
		}
	}
	if got := p.wait(billing, so("billing-0"), t0); got != 0 {
		t.Errorf("the first ScaledObject of another cluster waits %v behind orders', want 0", got)
	}

	// A booked ScaledObject keeps its turn: early, it is told what is left; on time, it
	// begins without taking another turn from those behind it.
	if got := p.wait(orders, so("orders-2"), t0.Add(time.Second)); got != 3*time.Second {
		t.Errorf("orders-2, back early, waits %v, want the 3s left of its turn", got)
	}
	if got := p.wait(orders, so("orders-1"), t0.Add(2*time.Second)); got != 0 {
		t.Errorf("orders-1, back at its turn, waits %v, want 0", got)
	}
	if got := p.wait(orders, so("orders-4"), t0.Add(2*time.Second)); got != 6*time.Second {
		t.Errorf("orders-4, new, waits %v, want 6s: after orders-3's turn at 6s", got)
	}
	if _, booked := p.size(); booked != 3 {
		t.Errorf("%d ScaledObjects booked, want 3 (orders-2, -3, -4)", booked)
	}
}

// A ScaledObject deleted or out of scope gives its turn back; one whose target moved to
// another cluster takes a turn of that cluster's.
func TestTurnsAreDroppedWithTheirScaledObjects(t *testing.T) {
	p := newClusterPacer(1)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	p.wait(orders, so("a"), t0)
	if got := p.wait(orders, so("b"), t0); got != time.Second {
		t.Fatalf("b waits %v, want 1s", got)
	}
	p.forget(so("b"))
	if _, booked := p.size(); booked != 0 {
		t.Errorf("%d booked after the only booked ScaledObject was forgotten", booked)
	}
	p.forget(so("never-seen")) // nothing to drop

	if got := p.wait(orders, so("c"), t0); got != 2*time.Second {
		t.Fatalf("c waits %v, want 2s", got)
	}
	if got := p.wait(billing, so("c"), t0.Add(time.Second/2)); got != 0 {
		t.Errorf("c, now billing's, waits %v for billing's first turn, want 0", got)
	}
	if _, booked := p.size(); booked != 0 {
		t.Errorf("%d booked: c's turn of orders was kept after it moved", booked)
	}
}

// The pacer holds the clusters audited of late, not every cluster it has seen: idle ones
// are swept as new ones come.
func TestIdleClustersAreSwept(t *testing.T) {
	p := newClusterPacer(1)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	const clusters = 10_000
	for i := range clusters {
		// One new cluster every 10 ms: each is idle a second later.
		now := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		cluster := types.NamespacedName{Namespace: "db", Name: fmt.Sprint("c", i)}
		if got := p.wait(cluster, so(fmt.Sprint("so-", i)), now); got != 0 {
			t.Fatalf("the first ScaledObject of cluster %d waits %v", i, got)
		}
	}
	held, booked := p.size()
	t.Logf("%d clusters held after %d were audited, 100 a second", held, clusters)
	if held > 2*minSweep+200 {
		t.Errorf("%d clusters held of %d, each idle within a second: the idle ones are not swept", held, clusters)
	}
	if booked != 0 {
		t.Errorf("%d booked, want 0", booked)
	}

	// A cluster with a booked turn is never swept, however long it waits.
	busy := types.NamespacedName{Namespace: "db", Name: "busy"}
	later := t0.Add(time.Hour)
	p.wait(busy, so("busy-0"), later)
	p.wait(busy, so("busy-1"), later)
	for i := range 4 * minSweep {
		p.wait(types.NamespacedName{Namespace: "db", Name: fmt.Sprint("d", i)}, so(fmt.Sprint("d-", i)), later.Add(time.Duration(i)*time.Second))
	}
	if got := p.wait(busy, so("busy-1"), later.Add(time.Second)); got != 0 {
		t.Errorf("busy-1 waits %v at its turn, want 0: its cluster's turns were swept", got)
	}
}
