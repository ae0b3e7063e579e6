package secretcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// apiServer stands in for the API server: it serves a few Secrets, counts the reads, and
// can hold every read until released, so that concurrent Gets overlap for sure.
type apiServer struct {
	secrets map[client.ObjectKey]string // name -> the value of key "password"
	fail    error
	reads   atomic.Int32
	hold    chan struct{} // nil: answer at once
}

func (a *apiServer) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	a.reads.Add(1)
	if a.hold != nil {
		select {
		case <-a.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if a.fail != nil {
		return a.fail
	}
	v, ok := a.secrets[key]
	if !ok {
		return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		o.ObjectMeta = metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}
		o.Data = map[string][]byte{"password": []byte(v)}
	case *appsv1.StatefulSet:
		o.Name = key.Name
	}
	return nil
}

func (a *apiServer) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("not served")
}

var key = client.ObjectKey{Namespace: "db", Name: "creds"}

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newReader(api *apiServer, ttl time.Duration, maxEntries int) (*Reader, *clock) {
	r := New(api, ttl, maxEntries)
	c := &clock{now: time.Unix(1000, 0)}
	r.now = c.Now
	return r, c
}

func password(t *testing.T, r *Reader, k client.ObjectKey) string {
	t.Helper()
	s := &corev1.Secret{}
	if err := r.Get(context.Background(), k, s); err != nil {
		t.Fatalf("Get %s: %v", k, err)
	}
	return string(s.Data["password"])
}

func TestASecretIsReadOncePerTTL(t *testing.T) {
	api := &apiServer{secrets: map[client.ObjectKey]string{key: "one"}}
	r, clock := newReader(api, 5*time.Second, 10)
	for range 3 {
		if got := password(t, r, key); got != "one" {
			t.Fatalf("password %q", got)
		}
	}
	if n := api.reads.Load(); n != 1 {
		t.Errorf("%d reads within the TTL, want 1", n)
	}
	api.secrets[key] = "two" // rotated
	clock.Add(5 * time.Second)
	if got := password(t, r, key); got != "two" {
		t.Errorf("after the TTL: password %q, want the rotated one", got)
	}
	if n := api.reads.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}

// waitForRead waits until a read has reached the API server.
func waitForRead(t *testing.T, api *apiServer) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return api.reads.Load() > 0, nil
	}); err != nil {
		t.Fatal("no read reached the API server")
	}
}

func TestConcurrentGetsShareOneRead(t *testing.T) {
	api := &apiServer{secrets: map[client.ObjectKey]string{key: "pw"}, hold: make(chan struct{})}
	r, _ := newReader(api, 0, 10) // no caching at all: still one read for overlapping Gets
	const n = 100
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &corev1.Secret{}
			if err := r.Get(context.Background(), key, s); err == nil && string(s.Data["password"]) == "pw" {
				ok.Add(1)
			}
		}()
	}
	// Release the read once it has started; every Get is then waiting on it or done.
	waitForRead(t, api)
	close(api.hold)
	wg.Wait()
	if ok.Load() != n {
		t.Errorf("%d of %d Gets got the Secret", ok.Load(), n)
	}
	if reads := api.reads.Load(); reads >= n {
		t.Errorf("%d reads for %d concurrent Gets", reads, n)
	}
	if r.Len() != 0 {
		t.Errorf("TTL 0 kept %d Secrets", r.Len())
	}
}

func TestAWaiterGivingUpDoesNotFailTheRead(t *testing.T) {
	api := &apiServer{secrets: map[client.ObjectKey]string{key: "pw"}, hold: make(chan struct{})}
	r, _ := newReader(api, time.Minute, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Get(ctx, key, &corev1.Secret{}) }()
	waitForRead(t, api)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the waiter that gave up: %v", err)
	}
	close(api.hold)
	if got := password(t, r, key); got != "pw" {
		t.Errorf("password %q", got)
	}
}

func TestNotFoundIsRememberedErrorsAreNot(t *testing.T) {
	api := &apiServer{secrets: map[client.ObjectKey]string{}}
	r, _ := newReader(api, time.Minute, 10)
	for range 2 {
		if err := r.Get(context.Background(), key, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Fatalf("error = %v, want NotFound", err)
		}
	}
	if n := api.reads.Load(); n != 1 {
		t.Errorf("%d reads of a missing Secret, want 1", n)
	}

	failing := &apiServer{fail: errors.New("rate: Wait(n=1) would exceed context deadline")}
	r, _ = newReader(failing, time.Minute, 10)
	for range 2 {
		if err := r.Get(context.Background(), key, &corev1.Secret{}); err == nil || apierrors.IsNotFound(err) {
			t.Fatalf("error = %v, want the API's", err)
		}
	}
	if n := failing.reads.Load(); n != 2 {
		t.Errorf("%d reads, want 2: a failed read must not be remembered", n)
	}
}

func TestAtMostMaxEntriesAreHeld(t *testing.T) {
	api := &apiServer{secrets: map[client.ObjectKey]string{}}
	keys := make([]client.ObjectKey, 5)
	for i := range keys {
		keys[i] = client.ObjectKey{Namespace: "db", Name: string(rune('a' + i))}
		api.secrets[keys[i]] = keys[i].Name
	}
	r, clock := newReader(api, time.Minute, 3)
	for _, k := range keys {
		clock.Add(time.Second)
		password(t, r, k)
	}
	if r.Len() != 3 {
		t.Fatalf("%d Secrets held, want 3", r.Len())
	}
	// The oldest went first: a is read again, e is not.
	before := api.reads.Load()
	password(t, r, keys[4])
	password(t, r, keys[0])
	if got := api.reads.Load() - before; got != 1 {
		t.Errorf("%d reads, want 1 (only the evicted oldest)", got)
	}
}

func TestCallersGetCopies(t *testing.T) {
	api := &apiServer{secrets: map[client.ObjectKey]string{key: "pw"}}
	r, _ := newReader(api, time.Minute, 10)
	s := &corev1.Secret{}
	if err := r.Get(context.Background(), key, s); err != nil {
		t.Fatal(err)
	}
	s.Data["password"][0] = 'X'
	if got := password(t, r, key); got != "pw" {
		t.Errorf("a caller's change reached the cache: %q", got)
	}
}

func TestOtherKindsPassThrough(t *testing.T) {
	api := &apiServer{secrets: map[client.ObjectKey]string{key: ""}}
	r, _ := newReader(api, time.Minute, 10)
	for range 2 {
		if err := r.Get(context.Background(), key, &appsv1.StatefulSet{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := api.reads.Load(); n != 2 || r.Len() != 0 {
		t.Errorf("%d reads, %d held: only Secrets are cached", n, r.Len())
	}
}
