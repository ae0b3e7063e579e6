// Package secretcache reads Secrets for the admission webhooks, off the controller's
// path: through a client of their own (whose rate limits fit admission traffic, so the
// controller's never stall an admission), each Secret at most once per TTL however many
// admissions ask for it at once, and holding at most a bounded number of them for no
// longer than the TTL. innokeda does not watch Secrets: a cluster's are many, and their
// values belong in memory only while they are used.
package secretcache

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/metrics"
)

func init() {
	for _, source := range []string{sourceAPI, sourceCache} {
		metrics.SecretReads.WithLabelValues(source)
	}
}

const (
	sourceAPI   = "api"
	sourceCache = "cache"
)

// Reader is a client.Reader that serves Secrets from a short-lived cache and passes every
// other read through to the API server.
type Reader struct {
	api        client.Reader // uncached
	ttl        time.Duration
	maxEntries int
	now        func() time.Time

	flights singleflight.Group
	mu      sync.Mutex
	entries map[client.ObjectKey]entry
}

type entry struct {
	secret  *corev1.Secret // nil: the Secret did not exist
	fetched time.Time
}

var _ client.Reader = &Reader{}

// New returns a Reader over api (an uncached reader) that keeps a Secret for ttl (0: not
// at all, every Get reads it; concurrent Gets of one Secret still share one read), and
// at most maxEntries Secrets.
func New(api client.Reader, ttl time.Duration, maxEntries int) *Reader {
	return &Reader{api: api, ttl: ttl, maxEntries: max(maxEntries, 1), now: time.Now, entries: map[client.ObjectKey]entry{}}
}

// Get implements client.Reader. A Secret is copied into obj from the cache when it was
// read less than the TTL ago; NotFound is remembered as long.
func (r *Reader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	secret, ok := obj.(*corev1.Secret)
	if !ok {
		return r.api.Get(ctx, key, obj, opts...)
	}
	e, ok := r.cached(key)
	if ok {
		metrics.SecretReads.WithLabelValues(sourceCache).Inc()
	} else {
		// One read per Secret at a time: the others wait for it, each within its own
		// context.
		ch := r.flights.DoChan(key.String(), func() (any, error) { return r.fetch(key) })
		select {
		case res := <-ch:
			if res.Err != nil {
				return res.Err
			}
			if res.Shared {
				metrics.SecretReads.WithLabelValues(sourceCache).Inc()
			}
			e = res.Val.(entry)
		case <-ctx.Done():
			return fmt.Errorf("read Secret %s: %w", key, ctx.Err())
		}
	}
	if e.secret == nil {
		return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
	}
	e.secret.DeepCopyInto(secret)
	return nil
}

// List implements client.Reader, uncached.
func (r *Reader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.api.List(ctx, list, opts...)
}

func (r *Reader) cached(key client.ObjectKey) (entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[key]
	if !ok || r.now().Sub(e.fetched) >= r.ttl {
		return entry{}, false
	}
	return e, true
}

// fetch reads key from the API server and remembers the answer. It runs detached from
// the context of the admission that started it, bounded on its own, so that one
// admission giving up does not fail the others waiting for the same read.
func (r *Reader) fetch(key client.ObjectKey) (entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	secret := &corev1.Secret{}
	metrics.SecretReads.WithLabelValues(sourceAPI).Inc()
	err := r.api.Get(ctx, key, secret)
	switch {
	case apierrors.IsNotFound(err):
		secret = nil
	case err != nil:
		return entry{}, fmt.Errorf("read Secret %s: %w", key, err)
	}
	e := entry{secret: secret, fetched: r.now()}
	if r.ttl > 0 {
		r.remember(key, e)
	}
	return e, nil
}

// fetchTimeout bounds one read of a Secret from the API server.
const fetchTimeout = 10 * time.Second

// remember stores e, first dropping expired entries, then the oldest, when full.
func (r *Reader) remember(key client.ObjectKey, e entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entries[key]; !ok && len(r.entries) >= r.maxEntries {
		now := r.now()
		var oldest client.ObjectKey
		first := true
		for k, v := range r.entries {
			if now.Sub(v.fetched) >= r.ttl {
				delete(r.entries, k)
				continue
			}
			if first || v.fetched.Before(r.entries[oldest].fetched) {
				oldest, first = k, false
			}
		}
		if len(r.entries) >= r.maxEntries {
			delete(r.entries, oldest)
		}
	}
	r.entries[key] = e
}

// Len is how many Secrets are held.
func (r *Reader) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}
