package audit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
)

// clusterPacer gives each InnoDBCluster's ScaledObjects their turns to be audited, at most
// rate a second with a burst of one: the fleet's audits may go as fast as the global bound
// lets them, but no one database sees more than its share, however many ScaledObjects
// target it or fall due at once (a change to its annotations re-audits them all).
//
// A ScaledObject whose turn is not yet keeps the turn it was given (it is booked) and is
// requeued until then, so that no worker waits on one cluster while others' are due.
type clusterPacer struct {
	rate rate.Limit

	mu       sync.Mutex
	clusters map[types.NamespacedName]*clusterTurns
	// bookedIn is the cluster each booked ScaledObject holds a turn of.
	bookedIn map[types.NamespacedName]types.NamespacedName
	// sweepAbove is the number of clusters past which idle ones are dropped.
	sweepAbove int
}

type clusterTurns struct {
	limiter *rate.Limiter
	// booked holds the turns given to ScaledObjects that were told to come back.
	booked map[types.NamespacedName]time.Time
}

func newClusterPacer(r float64) *clusterPacer {
	return &clusterPacer{
		rate:       rate.Limit(r),
		clusters:   map[types.NamespacedName]*clusterTurns{},
		bookedIn:   map[types.NamespacedName]types.NamespacedName{},
		sweepAbove: minSweep,
	}
}

// minSweep is the number of clusters below which none are swept.
const minSweep = 64

// wait tells how long so, a ScaledObject of cluster, must wait at now for its audit's turn;
// 0 means it may begin. A ScaledObject told to wait holds that turn until it takes it.
func (p *clusterPacer) wait(cluster, so types.NamespacedName, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if held, ok := p.bookedIn[so]; ok {
		turns := p.clusters[held]
		at := turns.booked[so]
		if held == cluster && now.Before(at) {
			return at.Sub(now)
		}
		// Its turn has come; or its target moved to another cluster, whose turn it needs.
		p.unbook(held, so)
		if held == cluster {
			return 0
		}
	}
	turns := p.clusters[cluster]
	if turns == nil {
		p.sweep(now)
		turns = &clusterTurns{limiter: rate.NewLimiter(p.rate, 1), booked: map[types.NamespacedName]time.Time{}}
		p.clusters[cluster] = turns
	}
	d := turns.limiter.ReserveN(now, 1).DelayFrom(now)
	if d > 0 {
		turns.booked[so] = now.Add(d)
		p.bookedIn[so] = cluster
	}
	return d
}

// forget drops the turn so holds, if any: it was deleted or left the audit's scope.
func (p *clusterPacer) forget(so types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cluster, ok := p.bookedIn[so]; ok {
		p.unbook(cluster, so)
	}
}

func (p *clusterPacer) unbook(cluster, so types.NamespacedName) {
	delete(p.clusters[cluster].booked, so)
	delete(p.bookedIn, so)
}

// sweep drops, once the clusters have doubled since the last sweep, those that hold no
// booked turn and whose limiter is full again: a new limiter would give the same turns.
// The memory held follows the clusters audited within the last second or so, not every
// cluster ever seen; each sweep costs one pass, paid for by the clusters added before it.
func (p *clusterPacer) sweep(now time.Time) {
	if len(p.clusters) < p.sweepAbove {
		return
	}
	for key, turns := range p.clusters {
		if len(turns.booked) == 0 && turns.limiter.TokensAt(now) >= 1 {
			delete(p.clusters, key)
		}
	}
	p.sweepAbove = max(minSweep, 2*len(p.clusters))
}

// size is how many clusters and booked ScaledObjects the pacer holds (for tests).
func (p *clusterPacer) size() (clusters, booked int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clusters), len(p.bookedIn)
}
