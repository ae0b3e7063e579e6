package lint

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the command as the binary does, and returns its exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Command(args, Options{Scheme: testScheme(t), Namespace: "default", ClusterDomain: "cluster.local"}, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommandExitCodes(t *testing.T) {
	dir := t.TempDir()
	clean := writeFile(t, dir, "clean.yaml", strings.Replace(cluster, "innokeda.io/database: app", "innokeda.io/allowed-tables: app.*", 1)+"---\n"+
		scaledObject("so", "mycluster", "SELECT COUNT(*) FROM app.jobs"))
	warned := writeFile(t, dir, "warned.yaml", cluster+"---\n"+scaledObject("so", "mycluster", "SELECT COUNT(*) FROM app.jobs"))
	denied := writeFile(t, dir, "denied.yaml", cluster+"---\n"+scaledObject("so", "mycluster", "DELETE FROM app.jobs"))
	broken := writeFile(t, dir, "broken.yaml", "kind: [unclosed\n")
	for _, tc := range []struct {
		name   string
		args   []string
		want   int
		stderr string
	}{
		{"infos only (the fill) pass the default --fail-on", []string{clean}, ExitClean, ""},
		{"infos fail --fail-on info", []string{"--fail-on", "info", clean}, ExitFindings, ""},
		{"a warning passes --fail-on error", []string{warned}, ExitClean, ""},
		{"a warning fails --fail-on warning", []string{"--fail-on", "warning", warned}, ExitFindings, ""},
		{"a denial fails", []string{denied}, ExitFindings, ""},
		{"unreadable input is 2, and the rest is still checked", []string{broken, denied}, ExitError, "broken.yaml:1: yaml: line 1:"},
		{"a missing path is 2", []string{filepath.Join(dir, "nope.yaml")}, ExitError, "nope.yaml: stat"},
		{"no path is a usage error", nil, ExitError, "give the files or directories to check"},
		{"an unknown format", []string{"-o", "xml", clean}, ExitError, `-o "xml" is not text, json, sarif or junit`},
		{"an unknown severity", []string{"--fail-on", "fatal", clean}, ExitError, `severity "fatal" is not one of`},
		{"an unknown flag", []string{"--frobnicate", clean}, ExitError, "flag provided but not defined"},
		{"-h is not an error", []string{"-h"}, ExitClean, "Usage: innokeda lint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != tc.want || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.want, tc.stderr)
			}
			if tc.name == "unreadable input is 2, and the rest is still checked" && !strings.Contains(stdout, "denied.yaml:") {
				t.Errorf("the readable file was not checked:\n%s", stdout)
			}
		})
	}
}

func TestCommandOutputs(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "overlays", "prod")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "cluster.yaml", cluster)
	writeFile(t, sub, "so.yml", scaledObject("so", "mycluster", "DELETE FROM app.jobs"))
	writeFile(t, dir, "configmap.json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}`)

	t.Run("text: one line per finding, placed, and a summary", func(t *testing.T) {
		code, stdout, _ := run(t, "", dir)
		if code != ExitFindings {
			t.Errorf("exit %d", code)
		}
		if want := filepath.Join(sub, "so.yml") + ":1: error: ScaledObject default/so: spec.triggers[0].metadata.query: Invalid value: the query is not a SELECT"; !strings.Contains(stdout, want) {
			t.Errorf("no line %q in:\n%s", want, stdout)
		}
		if !strings.Contains(stdout, "innokeda lint: 1 ScaledObject(s) checked, 1 object(s) of other kinds skipped, 0 unreadable; 1 error(s)") {
			t.Errorf("summary missing:\n%s", stdout)
		}
	})
	t.Run("json from stdin, to a file", func(t *testing.T) {
		out := filepath.Join(dir, "report.json")
		code, stdout, _ := run(t, cluster+"---\n"+scaledObject("so", "mycluster", "DELETE FROM app.jobs"), "-o", "json", "--output-file", out, "-")
		if code != ExitFindings || stdout != "" {
			t.Errorf("exit %d, stdout %q", code, stdout)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var report struct {
			Findings []struct {
				Rule, Severity, File, Object, Field, Message string
				Line                                         int
			}
			Summary struct {
				ScaledObjects, Errors int
				NotChecked            string
			}
			Unreadable []any
		}
		if err := json.Unmarshal(data, &report); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		var denial bool
		for _, f := range report.Findings {
			denial = denial || f.Rule == "query-not-read-only" && f.Severity == "error" && f.File == "-" && f.Line == 12 && f.Field == "spec.triggers[0].metadata.query"
		}
		if !denial || report.Summary.ScaledObjects != 1 || report.Summary.Errors != 1 || report.Summary.NotChecked == "" || report.Unreadable == nil {
			t.Errorf("report %s", data)
		}
	})
}

func TestCommandSARIF(t *testing.T) {
	code, stdout, _ := run(t, cluster+"---\n"+scaledObject("so", "mycluster", "DELETE FROM app.jobs"), "-o", "sarif", "-")
	if code != ExitFindings {
		t.Errorf("exit %d", code)
	}
	// The fields SARIF 2.1.0's schema requires (sarifLog: version, runs; run: tool;
	// tool: driver; driver: name; result: message with text; a region's startLine >= 1),
	// and the rule each result names, by ID and index.
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool *struct {
				Driver *struct {
					Name  string
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Message   *struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &log); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool == nil || log.Runs[0].Tool.Driver == nil || log.Runs[0].Tool.Driver.Name != "innokeda" {
		t.Fatalf("not a SARIF 2.1.0 log of one run of innokeda:\n%s", stdout)
	}
	run := log.Runs[0]
	var denial bool
	for _, r := range run.Results {
		if r.Message == nil || r.Message.Text == "" || len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("result without message or location: %+v", r)
		}
		if r.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule %d", r.RuleID, r.RuleIndex)
		}
		denial = denial || r.RuleID == "query-not-read-only" && r.Level == "error" && r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "stdin" && r.Locations[0].PhysicalLocation.Region.StartLine == 12
	}
	if !denial {
		t.Errorf("no error result for the DELETE at stdin:12:\n%s", stdout)
	}
}

func TestCommandJUnit(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "sos.yaml", cluster+"---\n"+scaledObject("bad", "mycluster", "DELETE FROM app.jobs")+"---\n"+
		scaledObject("good", "mycluster", "SELECT COUNT(*) FROM app.jobs"))
	code, stdout, _ := run(t, "", "-o", "junit", file)
	if code != ExitFindings {
		t.Errorf("exit %d", code)
	}
	var suites struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name     string `xml:"name,attr"`
				Failures []struct {
					Type string `xml:"type,attr"`
					Text string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(stdout), &suites); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if suites.Tests != 2 || suites.Failures != 1 || len(suites.Suites) != 1 || suites.Suites[0].Name != file || len(suites.Suites[0].Cases) != 2 {
		t.Fatalf("want one suite of two cases, one failed:\n%s", stdout)
	}
	bad, good := suites.Suites[0].Cases[0], suites.Suites[0].Cases[1]
	if bad.Name != "ScaledObject default/bad" || len(bad.Failures) != 1 || bad.Failures[0].Type != "query-not-read-only" || !strings.Contains(bad.Failures[0].Text, "sos.yaml:12:") {
		t.Errorf("case %+v", bad)
	}
	if good.Name != "ScaledObject default/good" || len(good.Failures) != 0 {
		t.Errorf("case %+v", good)
	}
}

func TestIgnoreAnnotation(t *testing.T) {
	annotated := func(annotations ...string) string {
		so := scaledObject("so", "mycluster", "DELETE FROM app.jobs")
		return strings.Replace(so, "  name: so\n", "  name: so\n  annotations:\n    "+strings.Join(annotations, "\n    ")+"\n", 1)
	}
	for _, tc := range []struct {
		name        string
		annotations []string
		want, avoid string // rules
		ignored     int
	}{
		{"with a reason: the rule's findings are dropped, and counted", []string{`ignore-check.innokeda.io/query-not-read-only: "a test fixture, never applied"`}, "", "query-not-read-only", 1},
		{"a fill too", []string{`ignore-check.innokeda.io/fill-host: "set by the overlay"`}, "query-not-read-only", "fill-host", 1},
		{"without a reason: not honoured, and a finding", []string{`ignore-check.innokeda.io/query-not-read-only: " "`}, "ignore-without-reason", "", 0},
		{"a rule that does not exist", []string{`ignore-check.innokeda.io/query-not-readonly: "typo"`}, "ignore-unknown-rule", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := lintText(t, cluster, annotated(tc.annotations...))
			got := " " + rulesOf(r) + " "
			if tc.want != "" && !strings.Contains(got, " "+tc.want+"@") {
				t.Errorf("findings %s; want %s", got, tc.want)
			}
			if tc.avoid != "" && strings.Contains(got, " "+tc.avoid+"@") {
				t.Errorf("findings %s; want no %s", got, tc.avoid)
			}
			if tc.name != "with a reason: the rule's findings are dropped, and counted" && !strings.Contains(got, " query-not-read-only@") {
				t.Errorf("findings %s: an ignore that is not honoured, or of another rule, dropped the denial", got)
			}
			if r.Ignored != tc.ignored {
				t.Errorf("%d ignored; want %d", r.Ignored, tc.ignored)
			}
		})
	}
}

func TestCommandFix(t *testing.T) {
	dir := t.TempDir()
	so := writeFile(t, dir, "so.yaml", "# jobs\n"+scaledObject("so", "mycluster", "SELECT COUNT(*) FROM app.jobs"))
	clusterFile := writeFile(t, dir, "cluster.yaml", cluster)

	code, stdout, stderr := run(t, "", "--fix", clusterFile, so)
	if code != ExitClean || !strings.Contains(stderr, "innokeda lint: 1 ScaledObject(s) checked") {
		t.Errorf("exit %d; the report goes to stderr with --fix:\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, cluster+"---\n# jobs\n") || !strings.Contains(stdout, "envSourceContainerName: mysql") {
		t.Fatalf("--fix printed:\n%s", stdout)
	}
	// What --fix prints is what the webhook would store: linted again, nothing to fill.
	_, again, _ := run(t, stdout, "-")
	if strings.Contains(again, "[fill-") {
		t.Errorf("the filled manifests still need filling:\n%s", again)
	}

	before, _ := os.ReadFile(clusterFile)
	if code, _, stderr := run(t, "", "--fix", "--write", clusterFile, so); code != ExitClean {
		t.Fatalf("--write: exit %d %s", code, stderr)
	}
	written, _ := os.ReadFile(so)
	if string(written) != strings.TrimPrefix(stdout, cluster+"---\n") {
		t.Errorf("--write wrote:\n%s\nwant what --fix printed", written)
	}
	if after, _ := os.ReadFile(clusterFile); string(after) != string(before) {
		t.Errorf("a file with nothing to fill was rewritten")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--write", so}, "--write writes what --fix fills: give both"},
		{[]string{"--fix", "--write", "-"}, "--write cannot write back to stdin"},
	} {
		if code, _, stderr := run(t, "", tc.args...); code != ExitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// --fix rewrites only what it can keep as it was, and --write writes nothing unless it can
// write everything, never through a symbolic link.
func TestCommandFixRefusesWhatItCannotKeep(t *testing.T) {
	so := scaledObject("so", "mycluster", "SELECT COUNT(*) FROM app.jobs")
	for _, tc := range []struct{ name, file, text, want string }{
		{"a separator line with more on it", "sep.yaml", cluster + "--- # the ScaledObject\n" + so, "a document separator line holds more than ---"},
		{"CRLF", "crlf.yaml", strings.ReplaceAll(cluster+"---\n"+so, "\n", "\r\n"), "its lines end in CRLF"},
		{"JSON", "so.json", `{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "so"}, "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "mycluster"}, "triggers": [{"type": "mysql", "metadata": {"query": "SELECT 1", "queryValue": "1"}}]}}`, "it is JSON"},
		{"aliases", "alias.yaml", cluster + "---\n" + strings.Replace(so, "  triggers:\n", "  triggers: &t\n", 1), "YAML anchors or aliases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clusterFile := writeFile(t, dir, "a-cluster.yaml", cluster)
			good := writeFile(t, dir, "b-good.yaml", so)
			bad := writeFile(t, dir, tc.file, tc.text)
			before, _ := os.ReadFile(good)
			code, _, stderr := run(t, "", "--fix", "--write", clusterFile, good, bad)
			if code != ExitError || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "nothing was written") {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if after, _ := os.ReadFile(bad); string(after) != tc.text {
				t.Errorf("the file it cannot keep was changed:\n%s", after)
			}
			if after, _ := os.ReadFile(good); string(after) != string(before) {
				t.Errorf("another file was written before the refusal")
			}
		})
	}
	t.Run("a symbolic link", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		victim := writeFile(t, outside, "victim.yaml", so)
		clusterFile := writeFile(t, dir, "cluster.yaml", cluster)
		link := filepath.Join(dir, "so.yaml")
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := run(t, "", "--fix", "--write", clusterFile, link)
		if code != ExitError || !strings.Contains(stderr, "not a symbolic link") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		if after, _ := os.ReadFile(victim); string(after) != so {
			t.Errorf("written through the link:\n%s", after)
		}
	})
}
