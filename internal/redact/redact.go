// Package redact keeps secret values out of text meant for people: admission warnings,
// denials, events and logs.
package redact

import "strings"

// Placeholder replaces a secret value.
const Placeholder = "[redacted]"

// Secrets are the values to keep out of a text. The zero value holds none.
type Secrets struct {
	values []string
}

// Add records values (empty ones are ignored; surrounding spaces are also tried without).
func (s *Secrets) Add(values ...string) {
	for _, v := range values {
		for _, form := range []string{v, strings.TrimSpace(v)} {
			if form != "" && !contains(s.values, form) {
				s.values = append(s.values, form)
			}
		}
	}
}

func contains(values []string, v string) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}

// From returns text with every occurrence of a recorded value, in any letter case (MySQL
// may fold a database's name), replaced by Placeholder. A value is replaced where it stands
// as a word of its own (a user name "keda" is not blanked out of "innokeda"); longer values
// go first, so a value that contains another is replaced whole.
func (s *Secrets) From(text string) string {
	if s == nil {
		return text
	}
	values := append([]string(nil), s.values...)
	// Longest first; the list is short, insertion sort keeps it dependency-free and stable.
	for i := 1; i < len(values); i++ {
		for j := i; j > 0 && len(values[j]) > len(values[j-1]); j-- {
			values[j], values[j-1] = values[j-1], values[j]
		}
	}
	for _, v := range values {
		text = replaceFold(text, v)
	}
	return text
}

// replaceFold replaces the occurrences of v in text that stand as words of their own,
// compared without regard to case.
func replaceFold(text, v string) string {
	var b strings.Builder
	last := 0
	for i := 0; i+len(v) <= len(text); {
		if strings.EqualFold(text[i:i+len(v)], v) && wordAt(text, i, len(v)) {
			b.WriteString(text[last:i])
			b.WriteString(Placeholder)
			i += len(v)
			last = i
			continue
		}
		i++
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// wordAt tells whether text[i:i+n] has no letter, digit or underscore right before or after it.
func wordAt(text string, i, n int) bool {
	return (i == 0 || !isWordByte(text[i-1])) && (i+n == len(text) || !isWordByte(text[i+n]))
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// Error returns err with the recorded values kept out of its message; errors.Is and
// errors.As still see the errors it wraps. A nil err, or one whose message holds no
// recorded value, is returned as it is.
func (s *Secrets) Error(err error) error {
	if err == nil {
		return nil
	}
	text := s.From(err.Error())
	if text == err.Error() {
		return err
	}
	return &redactedError{err: err, text: text}
}

type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }
