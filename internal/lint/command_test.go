package lint

import (
	"bytes"
	"encoding/json"
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
		{"an unknown format", []string{"-o", "xml", clean}, ExitError, `-o "xml" is not text or json`},
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
