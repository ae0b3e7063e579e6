package lint

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/innokeda/innokeda/internal/validation"
)

// Every reason admission denies for is a rule, every rule has a unique ID that an
// annotation key may carry, and the rules page is what the rules say.
func TestRules(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if seen[r.ID] {
			t.Errorf("rule %s twice", r.ID)
		}
		seen[r.ID] = true
		for _, c := range r.ID {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				t.Errorf("rule %s: %q cannot be in the name of annotation ignore-check.innokeda.io/<id>", r.ID, c)
			}
		}
		if r.Summary == "" || r.Detail == "" {
			t.Errorf("rule %s has no summary or detail", r.ID)
		}
	}
	for _, reason := range validation.Reasons {
		if r, ok := ruleOf(reason); !ok || r.Severity != Error {
			t.Errorf("reason %s has no error rule", reason)
		}
	}
}

func TestRulesPageIsCurrent(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "docs", "rules.md")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != RulesPage() {
		t.Errorf("docs/rules.md is not what internal/lint/rules.go says: run make docs")
	}
	for _, r := range Rules {
		if !strings.Contains(string(got), "\n## "+r.ID+"\n") {
			t.Errorf("docs/rules.md has no section for %s", r.ID)
		}
	}
}
