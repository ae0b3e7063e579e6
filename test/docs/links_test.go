// Package docs checks the project's Markdown: every link to a file of the repository, and
// every link to a heading, leads somewhere.
package docs

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/innokeda/innokeda/test/harness"
)

// link is a Markdown inline link or image: [text](target) or ![alt](target "title").
var link = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// heading is an ATX heading line.
var heading = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)

// TestLinksResolve: in every tracked Markdown file, links to the repository's files name
// files or directories that exist, and links to headings (#anchor, or file.md#anchor) name
// headings that exist, as GitHub makes their anchors.
func TestLinksResolve(t *testing.T) {
	root := harness.RepoRoot()
	out, err := exec.Command("git", "-C", root, "ls-files", "*.md").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Fields(string(out))
	if len(files) < 3 {
		t.Fatalf("only %d Markdown files tracked: %q", len(files), files)
	}
	anchorsOf := map[string]map[string]bool{}
	anchors := func(path string) (map[string]bool, error) {
		if a, ok := anchorsOf[path]; ok {
			return a, nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		a := headingAnchors(string(text))
		anchorsOf[path] = a
		return a, nil
	}
	checked := 0
	for _, file := range files {
		path := filepath.Join(root, file)
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(stripCode(string(text)), "\n") {
			for _, m := range link.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if u, err := url.Parse(target); err != nil || u.Scheme != "" {
					continue // a web address: not the repository's
				}
				checked++
				where := fmt.Sprintf("%s:%d: %s", file, i+1, target)
				name, fragment, _ := strings.Cut(target, "#")
				linked := path
				if name != "" {
					linked = filepath.Join(filepath.Dir(path), name)
					if _, err := os.Stat(linked); err != nil {
						t.Errorf("%s: no such file in the repository", where)
						continue
					}
				}
				if fragment == "" || !strings.HasSuffix(linked, ".md") {
					continue
				}
				a, err := anchors(linked)
				if err != nil {
					t.Errorf("%s: %v", where, err)
				} else if !a[fragment] {
					t.Errorf("%s: no heading with anchor #%s there", where, fragment)
				}
			}
		}
	}
	t.Logf("%d links to the repository's files and headings checked in %d Markdown files", checked, len(files))
}

// stripCode blanks fenced code blocks (keeping their lines, for line numbers): what they
// hold is code, not links.
func stripCode(text string) string {
	lines := strings.Split(text, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			lines[i] = ""
		} else if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// headingAnchors are the anchors GitHub gives a document's headings: lower case, spaces
// to hyphens, punctuation but hyphens and underscores dropped, -1, -2 ... for repeats.
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range strings.Split(stripCode(text), "\n") {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := slugify(m[1])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

func slugify(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestSlugify(t *testing.T) {
	for title, want := range map[string]string{
		"The audit at scale":                    "the-audit-at-scale",
		"Scale: innokeda in a big cluster":      "scale-innokeda-in-a-big-cluster",
		"A hostile object's cost (issue 18)":    "a-hostile-objects-cost-issue-18",
		"`innokeda lint`":                       "innokeda-lint",
		"Security: what a hostile ScaledObject": "security-what-a-hostile-scaledobject",
	} {
		if got := slugify(title); got != want {
			t.Errorf("slugify(%q) = %q, want %q", title, got, want)
		}
	}
}
