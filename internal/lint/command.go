package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gomodules.xyz/jsonpatch/v2"

	"github.com/innokeda/innokeda/internal/manifests"
)

// Exit codes of innokeda lint.
const (
	ExitClean    = 0 // nothing at or above --fail-on
	ExitFindings = 1 // something at or above --fail-on
	ExitError    = 2 // a usage error, or input that could not be read
)

// Command runs innokeda lint with args (after the word lint), defaults o (the manager's
// defaults for the flags they share), and returns its exit code.
func Command(args []string, o Options, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("innokeda lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: innokeda lint [flags] PATH...

Checks ScaledObjects as innokeda's admission webhooks would, offline: what the mutating
webhook would fill, and what the validating webhook would deny or warn about. PATHs are
files or directories (*.yaml, *.yml, *.json under them); - reads stdin, so that
"helm template ... | innokeda lint -" and "kustomize build ... | innokeda lint -" work.
InnoDBClusters in the input stand for the cluster's; the dry-run against MySQL is not made.

Exit codes: 0 nothing at or above --fail-on, 1 something, 2 a usage error or unreadable input.

Flags:
`)
		fs.PrintDefaults()
	}
	o.Limits = o.Limits.OrDefault()
	listRules := fs.Bool("rules", false, "Print every rule, with its ID, severity and meaning (docs/rules.md), and exit.")
	format := fs.String("o", "text", "Output format: text, json, sarif (SARIF 2.1.0, for code scanning) or junit (JUnit XML, for CI test reports).")
	outputFile := fs.String("output-file", "", "Write the report to this file instead of stdout.")
	fix := fs.Bool("fix", false, "Print the manifests as the mutating webhook would fill them (the report then goes to stderr, or to --output-file).")
	writeBack := fs.Bool("write", false, "With --fix, write the filled manifests back into their files instead.")
	failOn := fs.String("fail-on", Error.String(), "Exit 1 when a finding of this severity or above is found: error, warning or info.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Namespace of the objects whose manifests name none.")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "DNS domain of the Kubernetes cluster, as the manager's --cluster-domain.")
	fs.BoolVar(&o.ScalerAccounts, "scaler-accounts", o.ScalerAccounts, "As the manager's --scaler-accounts.")
	fs.IntVar(&o.Limits.MaxMySQLTriggers, "max-mysql-triggers", o.Limits.MaxMySQLTriggers, "As the manager's --max-mysql-triggers.")
	fs.IntVar(&o.Limits.MaxQueryBytes, "max-query-bytes", o.Limits.MaxQueryBytes, "As the manager's --max-query-bytes.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitClean
		}
		return ExitError
	}
	if *listRules {
		fmt.Fprint(stdout, RulesPage())
		return ExitClean
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "innokeda lint: "+format+"\n", a...)
		return ExitError
	}
	threshold, err := ParseSeverity(*failOn)
	if err != nil {
		return usage("--fail-on: %v", err)
	}
	write, ok := writers[*format]
	if *format == "junit" {
		write, ok = junitWriter(threshold), true
	}
	if !ok {
		return usage("-o %q is not text, json, sarif or junit", *format)
	}
	if fs.NArg() == 0 {
		return usage("give the files or directories to check, or - for stdin (innokeda lint -h)")
	}
	if o.Limits.MaxMySQLTriggers < 1 || o.Limits.MaxQueryBytes < 1 {
		return usage("--max-mysql-triggers and --max-query-bytes must be at least 1")
	}
	if *writeBack && !*fix {
		return usage("--write writes what --fix fills: give both")
	}
	if *writeBack && slices.Contains(fs.Args(), manifests.Stdin) {
		return usage("--write cannot write back to stdin: use --fix alone, and redirect its output")
	}

	files, readErrs := manifests.ReadFiles(fs.Args(), stdin)
	input, parseErrs := manifests.ParseFiles(files)
	report := Lint(input, o)
	report.Unreadable = append(append(readErrs, parseErrs...), report.Unreadable...)

	out := stdout
	if *fix {
		if err := writeFixes(files, report.Fixes, *writeBack, stdout); err != nil {
			return usage("%v", err)
		}
		if !*writeBack {
			out = stderr // stdout holds the manifests
		}
	}
	if *outputFile != "" {
		f, err := os.Create(*outputFile)
		if err != nil {
			return usage("%v", err)
		}
		defer f.Close()
		out = f
	}
	if err := write(out, report); err != nil {
		return usage("write the report: %v", err)
	}
	for _, e := range report.Unreadable {
		fmt.Fprintf(stderr, "innokeda lint: %v\n", e)
	}
	switch worst, found := report.Worst(); {
	case len(report.Unreadable) > 0:
		return ExitError
	case found && worst >= threshold:
		return ExitFindings
	}
	return ExitClean
}

// writeFixes writes files with fixes applied: back into the files that change when
// inPlace, else every file's content to stdout, in input order, as one stream. Every file
// is fixed before anything is written: a file that cannot be fixed leaves them all as they
// were.
func writeFixes(files []manifests.File, fixes []Fix, inPlace bool, stdout io.Writer) error {
	fixed := make([][]byte, len(files))
	changed := make([]bool, len(files))
	for i, f := range files {
		patches := map[int][]jsonpatch.Operation{}
		for _, fx := range fixes {
			if fx.File == f.Source {
				patches[fx.Line] = append(patches[fx.Line], fx.Ops...)
			}
		}
		out, err := manifests.Apply(f.Data, patches)
		if err != nil {
			return fmt.Errorf("%s: %w; nothing was written", f.Source, err)
		}
		fixed[i], changed[i] = out, len(patches) > 0
	}
	if inPlace {
		for i, f := range files {
			if info, err := os.Lstat(f.Source); changed[i] && (err != nil || !info.Mode().IsRegular()) {
				return fmt.Errorf("%s: --write writes only regular files, not a symbolic link or a device (%v); nothing was written", f.Source, err)
			}
		}
		for i, f := range files {
			if changed[i] {
				if err := replaceFile(f.Source, fixed[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i, out := range fixed {
		if i > 0 && !bytes.HasPrefix(out, []byte("---")) {
			out = append([]byte("---\n"), out...)
		}
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		if _, err := stdout.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// replaceFile replaces the regular file path by data, keeping its mode: written beside it,
// then renamed over it, so that it is never half written. A symbolic link is refused: it
// may point out of the tree being fixed.
func replaceFile(path string, data []byte) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: --write writes only regular files, not a symbolic link or a device", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".innokeda-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // once renamed, there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

var writers = map[string]func(io.Writer, Report) error{"text": writeText, "json": writeJSON, "sarif": writeSARIF}

// offline says what lint cannot check without the cluster.
const offline = "not checked offline: the dry-run against MySQL, and what the credentials in Secrets and TriggerAuthentications resolve to"

// writeText writes one line per finding, file:line first, as compilers do, then a summary.
func writeText(w io.Writer, r Report) error {
	counts := make([]int, len(severityNames))
	var b strings.Builder
	for _, f := range r.Findings {
		counts[f.Severity]++
		field := ""
		if f.Field != "" {
			field = f.Field + ": "
		}
		fmt.Fprintf(&b, "%s:%d: %s: %s: %s%s [%s]\n", f.File, f.Line, f.Severity, f.Object, field, f.Message, f.Rule)
	}
	fmt.Fprintf(&b, "innokeda lint: %d ScaledObject(s) checked, %d object(s) of other kinds skipped, %d unreadable; %d error(s), %d warning(s), %d info, %d ignored by annotation; %s\n",
		r.ScaledObjects, r.Skipped, len(r.Unreadable), counts[Error], counts[Warning], counts[Info], r.Ignored, offline)
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonReport is the JSON output (docs/lint.md describes it).
type jsonReport struct {
	Findings   []Finding   `json:"findings"`
	Summary    jsonSummary `json:"summary"`
	Unreadable []jsonError `json:"unreadable"`
}

type jsonSummary struct {
	ScaledObjects int    `json:"scaledObjects"`
	Skipped       int    `json:"skipped"`
	Errors        int    `json:"errors"`
	Warnings      int    `json:"warnings"`
	Infos         int    `json:"infos"`
	Ignored       int    `json:"ignored"`
	NotChecked    string `json:"notChecked"`
}

type jsonError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func writeJSON(w io.Writer, r Report) error {
	out := jsonReport{Findings: r.Findings, Unreadable: []jsonError{}, Summary: jsonSummary{ScaledObjects: r.ScaledObjects, Skipped: r.Skipped, Ignored: r.Ignored, NotChecked: offline}}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	for _, f := range r.Findings {
		switch f.Severity {
		case Error:
			out.Summary.Errors++
		case Warning:
			out.Summary.Warnings++
		default:
			out.Summary.Infos++
		}
	}
	for _, e := range r.Unreadable {
		out.Unreadable = append(out.Unreadable, jsonError{File: e.Source, Line: e.Line, Message: e.Err.Error()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
