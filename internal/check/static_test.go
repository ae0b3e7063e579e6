package check

import (
	"errors"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/test/gen"
)

// Static is the whole verdict that needs no I/O, from a ScaledObject and facts written
// down: what the webhook decides before any Secret read, and what innokeda lint decides.
func TestStatic(t *testing.T) {
	hosts := dryrun.HostPolicy{ClusterDomain: "cluster.local"}
	factsFor := func(bound string) autofill.Facts {
		cluster := gen.InnoDBCluster("db", "mycluster")
		if bound != "" {
			cluster.Annotations[annotations.AllowedTables] = bound
		}
		return autofill.Facts{ClusterDomain: "cluster.local", Cluster: cluster, StatefulSet: gen.StatefulSet(cluster), RootUserInSecret: true}
	}
	// filled is so as the mutating webhook fills it: the verdict is the validating
	// webhook's on what it would receive.
	filled := func(t *testing.T, facts autofill.Facts, opts ...gen.ScaledObjectOption) *kedav1alpha1.ScaledObject {
		t.Helper()
		r := autofill.Decide(gen.ScaledObject("db", "so", "mycluster", opts...), facts)
		if r.Skip != "" {
			t.Fatalf("not filled: %s", r.Skip)
		}
		return r.Object
	}
	query := gen.WithMySQLTrigger("SELECT COUNT(*) FROM app.jobs", "5")
	manyTriggers := make([]gen.ScaledObjectOption, 17)
	for i := range manyTriggers {
		manyTriggers[i] = query
	}
	for _, tc := range []struct {
		name      string
		bound     string
		opts      []gen.ScaledObjectOption
		lookupErr error
		violation string // a substring of the one violation, or "" for none
		warning   string // a substring of a warning
		unchecked bool   // the verdict says what it could not check
		parsed    bool   // queries are returned for the checks that follow
	}{
		{name: "filled and clean: a warning that no bound is set", opts: []gen.ScaledObjectOption{query},
			warning: "has no innokeda.io/allowed-tables annotation", parsed: true},
		{name: "inside the bound", bound: "app.*", opts: []gen.ScaledObjectOption{query}, parsed: true},
		{name: "outside the bound", bound: "shop.*", opts: []gen.ScaledObjectOption{query},
			violation: "the query reads app.jobs, outside what InnoDBCluster mycluster allows", parsed: true},
		{name: "a write", opts: []gen.ScaledObjectOption{gen.WithMySQLTrigger("DELETE FROM app.jobs", "5")},
			violation: "statement kind: Delete", parsed: true},
		{name: "the managed credentials sent elsewhere", opts: []gen.ScaledObjectOption{query, gen.WithTriggerMetadata(0, "host", "evil.example.com")},
			violation: "KEDA would send the credentials of TriggerAuthentication mycluster-innokeda there", parsed: true},
		{name: "too many triggers: nothing is parsed", opts: manyTriggers,
			violation: "has 17 mysql triggers: innokeda checks at most 16"},
		{name: "no cluster known: the checks that need none, and a note", opts: []gen.ScaledObjectOption{gen.WithMySQLTrigger("DELETE FROM app.jobs", "5")},
			lookupErr: errors.New("the cache is down"), violation: "statement kind: Delete", unchecked: true, parsed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			facts := factsFor(tc.bound)
			so := filled(t, facts, tc.opts...)
			verdict, queries := Static(so, facts, tc.lookupErr, StaticOptions{Hosts: hosts})
			switch {
			case tc.violation == "" && len(verdict.Violations) > 0:
				t.Errorf("violations %v, want none", verdict.Violations.ErrorList())
			case tc.violation != "" && (len(verdict.Violations) != 1 || !strings.Contains(verdict.Violations[0].Err.Error(), tc.violation)):
				t.Errorf("violations %v, want one with %q", verdict.Violations.ErrorList(), tc.violation)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(verdict.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want one with %q", verdict.Warnings, tc.warning)
			}
			if got := len(verdict.Unchecked) > 0; got != tc.unchecked {
				t.Errorf("unchecked %v, want %v", verdict.Unchecked, tc.unchecked)
			}
			if got := queries != nil; got != tc.parsed || tc.parsed && len(queries) != len(so.Spec.Triggers) {
				t.Errorf("%d queries for %d triggers; want them parsed: %v", len(queries), len(so.Spec.Triggers), tc.parsed)
			}
			if !verdict.InScope {
				t.Error("not in scope")
			}
		})
	}
}
