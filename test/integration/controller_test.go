package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/test/gen"
)

// eventually polls cond until it holds, for at most 15 seconds.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 15*time.Second, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitForEvent waits for an event about cluster with reason whose note contains text,
// and returns its note.
func waitForEvent(t *testing.T, c client.Client, cluster *innodbcluster.InnoDBCluster, eventType, reason, text string) string {
	t.Helper()
	var note string
	eventually(t, fmt.Sprintf("a %s event %s about %s", eventType, reason, cluster.Name), func(ctx context.Context) (bool, error) {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(cluster.Namespace)); err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == cluster.Name && e.Regarding.Kind == innodbcluster.Kind && e.Type == eventType && e.Reason == reason && strings.Contains(e.Note, text) {
				note = e.Note
				return true, nil
			}
		}
		return false, nil
	})
	return note
}

func annotate(t *testing.T, c client.Client, cluster *innodbcluster.InnoDBCluster, kv ...string) {
	t.Helper()
	ctx := context.Background()
	latest := &innodbcluster.InnoDBCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		gen.WithClusterAnnotation(kv[i], kv[i+1])(latest)
	}
	if err := c.Update(ctx, latest); err != nil {
		t.Fatal(err)
	}
}

func TestControllerKeepsTheTriggerAuthentication(t *testing.T) {
	const ns = "ta"
	c, _ := newClient(t, ns)
	ctx := context.Background()
	key := client.ObjectKey{Namespace: ns, Name: "withuser-innokeda"}

	cluster, _ := createCluster(t, c, ns, "withuser", "admin")
	ta := &kedav1alpha1.TriggerAuthentication{}
	if err := c.Get(ctx, key, ta); err != nil {
		t.Fatal(err)
	}
	wantRefs := []kedav1alpha1.AuthSecretTargetRef{
		{Parameter: "password", Name: "withuser-cluster-secret", Key: "rootPassword"},
		{Parameter: "username", Name: "withuser-cluster-secret", Key: "rootUser"},
	}
	if diff := cmp.Diff(wantRefs, ta.Spec.SecretTargetRef); diff != "" {
		t.Errorf("secretTargetRef (-want +got):\n%s", diff)
	}
	if ta.Labels[managed.ManagedByLabel] != "innokeda" || !managed.OwnedBy(ta, cluster) {
		t.Errorf("labels %v, ownerReferences %v: want managed-by innokeda, controlled by the cluster", ta.Labels, ta.OwnerReferences)
	}
	waitForEvent(t, c, cluster, "Normal", "Created", "Created TriggerAuthentication withuser-innokeda")

	t.Run("without rootUser in the Secret, only the password is mapped", func(t *testing.T) {
		createCluster(t, c, ns, "nouser", "")
		got := &kedav1alpha1.TriggerAuthentication{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nouser-innokeda"}, got); err != nil {
			t.Fatal(err)
		}
		want := []kedav1alpha1.AuthSecretTargetRef{{Parameter: "password", Name: "nouser-cluster-secret", Key: "rootPassword"}}
		if diff := cmp.Diff(want, got.Spec.SecretTargetRef); diff != "" {
			t.Errorf("secretTargetRef (-want +got):\n%s", diff)
		}
	})

	t.Run("spec.secretName changes: it follows", func(t *testing.T) {
		latest := &innodbcluster.InnoDBCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
			t.Fatal(err)
		}
		renamed := gen.InnoDBCluster(ns, "withuser")
		renamed.Spec.SecretName = "rotated"
		mustCreate(t, c, gen.Secret(renamed, "", "pw"))
		latest.Spec.SecretName = "rotated"
		if err := c.Update(ctx, latest); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the TriggerAuthentication follows the new Secret", func(ctx context.Context) (bool, error) {
			got := &kedav1alpha1.TriggerAuthentication{}
			err := c.Get(ctx, key, got)
			return err == nil && cmp.Equal(got.Spec.SecretTargetRef, []kedav1alpha1.AuthSecretTargetRef{{Parameter: "password", Name: "rotated", Key: "rootPassword"}}), err
		})
		waitForEvent(t, c, cluster, "Normal", "Updated", "Updated TriggerAuthentication withuser-innokeda")
	})

	t.Run("annotation removed: it goes", func(t *testing.T) {
		annotate(t, c, cluster, annotations.Autofill, "")
		eventually(t, "the TriggerAuthentication is deleted", func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, key, &kedav1alpha1.TriggerAuthentication{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
		waitForEvent(t, c, cluster, "Normal", "Deleted", "Deleted TriggerAuthentication withuser-innokeda")
	})
}

func TestControllerLeavesObjectsItDoesNotOwn(t *testing.T) {
	const ns = "not-owned"
	c, _ := newClient(t, ns)
	ctx := context.Background()
	theirs := &kedav1alpha1.TriggerAuthentication{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mycluster-innokeda", Labels: map[string]string{"team": "dba"}},
		Spec: kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{
			{Parameter: "password", Name: "their-secret", Key: "pw"}}},
	}
	mustCreate(t, c, theirs)
	before := &kedav1alpha1.TriggerAuthentication{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(theirs), before); err != nil {
		t.Fatal(err)
	}
	// A ScaledObject of the generated one's name (scaling something else, so that no
	// webhook has work to do with it).
	theirSO := gen.ScaledObject(ns, "mycluster-innokeda", "web", gen.WithTarget("apps/v1", "Deployment", "web"),
		gen.WithTrigger("cron", map[string]string{"timezone": "UTC", "start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "2"}))
	mustCreate(t, c, theirSO)
	beforeSO := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(theirSO), beforeSO); err != nil {
		t.Fatal(err)
	}
	cluster := gen.InnoDBCluster(ns, "mycluster",
		gen.WithClusterAnnotation(annotations.Query, "SELECT 1"), gen.WithClusterAnnotation(annotations.QueryValue, "1"))
	mustCreate(t, c, cluster)

	waitForEvent(t, c, cluster, "Warning", "NotOwnedByInnokeda", "TriggerAuthentication mycluster-innokeda exists and is not managed by innokeda")
	waitForEvent(t, c, cluster, "Warning", "NotOwnedByInnokeda", "ScaledObject mycluster-innokeda exists and is not managed by innokeda")
	after := &kedav1alpha1.TriggerAuthentication{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(theirs), after); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("a TriggerAuthentication innokeda does not own changed (-before +after):\n%s", diff)
	}
	afterSO := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(theirSO), afterSO); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(beforeSO, afterSO); diff != "" {
		t.Errorf("a ScaledObject innokeda does not own changed (-before +after):\n%s", diff)
	}
}

func TestControllerGeneratesScaledObjectFromAnnotations(t *testing.T) {
	const ns = "zero-yaml"
	c, _ := newClient(t, ns)
	ctx := context.Background()
	cluster, _ := createCluster(t, c, ns, "mycluster", "")
	key := client.ObjectKey{Namespace: ns, Name: "mycluster-innokeda"}

	dryRuns := counter(t, "innokeda_dryrun_total", "outcome", "succeeded")
	annotate(t, c, cluster,
		annotations.Query, "SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'",
		annotations.QueryValue, "3")
	so := &kedav1alpha1.ScaledObject{}
	eventually(t, "the ScaledObject is generated", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, key, so)
		return err == nil, client.IgnoreNotFound(err)
	})
	waitForEvent(t, c, cluster, "Normal", "Created", "Created ScaledObject mycluster-innokeda")
	if got := counter(t, "innokeda_dryrun_total", "outcome", "succeeded"); got <= dryRuns {
		t.Errorf("the generated ScaledObject was admitted without a dry-run")
	}
	md := so.Spec.Triggers[0].Metadata
	if md["host"] != "mycluster-instances.zero-yaml.svc.cluster.local" || md["queryValue"] != "3" ||
		so.Spec.Triggers[0].AuthenticationRef == nil || so.Spec.ScaleTargetRef.EnvSourceContainerName != "mysql" ||
		*so.Spec.MinReplicaCount != 3 || *so.Spec.MaxReplicaCount != 9 || !managed.OwnedBy(so, cluster) {
		t.Errorf("generated ScaledObject not filled or not owned: %+v %v", so.Spec, so.OwnerReferences)
	}

	t.Run("query-value changes: the ScaledObject follows", func(t *testing.T) {
		annotate(t, c, cluster, annotations.QueryValue, "2", annotations.MaxReplicas, "5")
		eventually(t, "queryValue 2 and maxReplicaCount 5", func(ctx context.Context) (bool, error) {
			got := &kedav1alpha1.ScaledObject{}
			err := c.Get(ctx, key, got)
			return err == nil && got.Spec.Triggers[0].Metadata["queryValue"] == "2" && *got.Spec.MaxReplicaCount == 5 &&
				got.Spec.Triggers[0].Metadata["host"] != "", err
		})
	})

	t.Run("query annotation removed: the ScaledObject goes", func(t *testing.T) {
		annotate(t, c, cluster, annotations.Query, "")
		eventually(t, "the ScaledObject is deleted", func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, key, &kedav1alpha1.ScaledObject{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
	})

	t.Run("invalid annotations: Warning events, no request to the API server", func(t *testing.T) {
		denials := counter(t, "innokeda_validation_denials_total", "reason", "query-value")
		annotate(t, c, cluster, annotations.Query, "SELECT 1", annotations.QueryValue, "three",
			annotations.MinReplicas, "5", annotations.MaxReplicas, "4")
		note := waitForEvent(t, c, cluster, "Warning", "InvalidAnnotation", "not written")
		want := `ScaledObject mycluster-innokeda not written: annotation innokeda.io/query-value="three" is not a number; annotation innokeda.io/min-replicas=5 is above innokeda.io/max-replicas=4`
		if note != want {
			t.Errorf("event note %q\nwant %q", note, want)
		}
		if got := counter(t, "innokeda_validation_denials_total", "reason", "query-value"); got != denials {
			t.Errorf("the webhook saw the invalid value: %v denials, want %v", got, denials)
		}
		if err := c.Get(ctx, key, &kedav1alpha1.ScaledObject{}); !apierrors.IsNotFound(err) {
			t.Errorf("a ScaledObject exists: %v", err)
		}
	})

	t.Run("a query the dry-run refuses: a Warning event with the webhook's message, retried with backoff", func(t *testing.T) {
		before := counter(t, "innokeda_validation_denials_total", "reason", "query-result")
		start := time.Now()
		annotate(t, c, cluster, annotations.Query, "SELECT price FROM testdb.testtable WHERE testcolumn = 'c'",
			annotations.QueryValue, "3", annotations.MinReplicas, "", annotations.MaxReplicas, "")
		note := waitForEvent(t, c, cluster, "Warning", "ScaledObjectRejected", "COALESCE")
		if !strings.Contains(note, `admission webhook "vscaledobject.innokeda.io" denied the request`) ||
			!strings.Contains(note, "spec.triggers[0].metadata.query: Invalid value: the query returned NULL") {
			t.Errorf("event note %q lacks the webhook's message", note)
		}
		// Count the retries over a fixed window: with a 200ms base delay doubling each
		// time, at most 5 attempts fit in 3 seconds (at 0, 0.2, 0.6, 1.4 and 3.0 s); a hot
		// loop would make dozens.
		<-time.After(time.Until(start.Add(3 * time.Second)))
		attempts := counter(t, "innokeda_validation_denials_total", "reason", "query-result") - before
		t.Logf("%v dry-run refusals in 3s", attempts)
		if attempts < 2 || attempts > 5 {
			t.Errorf("%v attempts in 3s, want 2 to 5 (exponential backoff from 200ms)", attempts)
		}

		// Fixing the annotation is acted on at once, not at the next retry (about 3s away now).
		fixed := time.Now()
		annotate(t, c, cluster, annotations.Query, "SELECT COALESCE(price, 0) FROM testdb.testtable WHERE testcolumn = 'c'")
		eventually(t, "the fixed ScaledObject is created", func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, key, &kedav1alpha1.ScaledObject{})
			return err == nil, client.IgnoreNotFound(err)
		})
		if took := time.Since(fixed); took > 1500*time.Millisecond {
			t.Errorf("the fixed ScaledObject took %v to appear; an annotation change must not wait for the backoff", took)
		}
	})
}
