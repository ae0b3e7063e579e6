package lint

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), as GitHub code scanning
// reads it: the rules lint has, and one result per finding, placed at its file and line.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	FullDescription      sarifMessage `json:"fullDescription"`
	HelpURI              string       `json:"helpUri"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine int `json:"startLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

// sarifLevels are SARIF's names for the severities.
var sarifLevels = map[Severity]string{Error: "error", Warning: "warning", Info: "note"}

func writeSARIF(w io.Writer, r Report) error {
	driver := sarifDriver{Name: "innokeda", InformationURI: "https://github.com/innokeda/innokeda", Rules: []sarifRule{}}
	index := map[string]int{}
	for i, rule := range Rules {
		sr := sarifRule{ID: rule.ID, ShortDescription: sarifMessage{rule.Summary}, FullDescription: sarifMessage{rule.Detail}, HelpURI: RulesURL + "#" + rule.Anchor()}
		sr.DefaultConfiguration.Level = sarifLevels[rule.Severity]
		driver.Rules = append(driver.Rules, sr)
		index[rule.ID] = i
	}
	run := sarifRun{Tool: sarifTool{driver}, Results: []sarifResult{}}
	for _, f := range r.Findings {
		result := sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevels[f.Severity], Message: sarifMessage{message(f)}}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = filepath.ToSlash(f.File)
		if f.File == "-" {
			loc.PhysicalLocation.ArtifactLocation.URI = "stdin"
		}
		loc.PhysicalLocation.Region.StartLine = max(f.Line, 1)
		result.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, result)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// message is a finding's text with its object and field, for formats that have no place
// for them.
func message(f Finding) string {
	if f.Field == "" {
		return f.Object + ": " + f.Message
	}
	return f.Object + ": " + f.Field + ": " + f.Message
}

// JUnit XML, as GitLab and most CI servers read test reports: a test suite per file, a test
// case per ScaledObject, failed by its findings at or above --fail-on.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	ClassName string         `xml:"classname,attr"`
	Failures  []junitFailure `xml:"failure"`
	SystemOut string         `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// junitWriter writes JUnit with threshold as what fails a case.
func junitWriter(threshold Severity) func(io.Writer, Report) error {
	return func(w io.Writer, r Report) error {
		suites := junitSuites{Name: "innokeda lint"}
		suiteOf := map[string]int{}
		caseOf := map[string][2]int{}
		for _, c := range r.Checked {
			i, ok := suiteOf[c.File]
			if !ok {
				i = len(suites.Suites)
				suiteOf[c.File] = i
				suites.Suites = append(suites.Suites, junitSuite{Name: c.File})
			}
			caseOf[c.File+"\x00"+c.Object] = [2]int{i, len(suites.Suites[i].Cases)}
			suites.Suites[i].Cases = append(suites.Suites[i].Cases, junitCase{Name: c.Object, ClassName: c.File})
			suites.Suites[i].Tests++
			suites.Tests++
		}
		for _, f := range r.Findings {
			at, ok := caseOf[f.File+"\x00"+f.Object]
			if !ok {
				continue // an unreadable object: reported on stderr and by the exit code
			}
			tc := &suites.Suites[at[0]].Cases[at[1]]
			text := fmt.Sprintf("%s:%d: %s [%s]", f.File, f.Line, message(f), f.Rule)
			if f.Severity < threshold {
				tc.SystemOut = strings.TrimPrefix(tc.SystemOut+"\n"+f.Severity.String()+": "+text, "\n")
				continue
			}
			if len(tc.Failures) == 0 {
				suites.Suites[at[0]].Failures++
				suites.Failures++
			}
			tc.Failures = append(tc.Failures, junitFailure{Message: f.Message, Type: f.Rule, Text: text})
		}
		if _, err := io.WriteString(w, xml.Header); err != nil {
			return err
		}
		enc := xml.NewEncoder(w)
		enc.Indent("", "  ")
		if err := enc.Encode(suites); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n")
		return err
	}
}
