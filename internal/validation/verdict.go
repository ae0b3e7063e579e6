package validation

// Verdict is what checking one ScaledObject found. The validating webhook turns it into an
// admission response and the audit into events, so both say the same thing.
type Verdict struct {
	// InScope is false when the ScaledObject is none of innokeda's business. It is true
	// too when its target could not be looked up: an Unchecked with Trigger -1 says so.
	InScope bool
	// Violations are why KEDA would fail on it, each phrased as the fix.
	Violations Violations
	// Advice are the warnings of the checks that need no I/O, each with its rule.
	Advice []Advice
	// Warnings are for people and change nothing.
	Warnings []string
	// Unchecked are the parts that could not be checked (a lookup failed, MySQL did not
	// answer in time): not a fault of the ScaledObject's.
	Unchecked []Unchecked
	// NotDryRun counts the mysql triggers whose query was, by design, not dry-run (a host
	// or a credential source out of innokeda's reach): only their static checks were made,
	// and a warning says so.
	NotDryRun int
}

// Unchecked is a part of a ScaledObject that could not be checked, and why.
type Unchecked struct {
	// Trigger is the index of the trigger whose query was not dry-run, or -1 when
	// nothing could be checked.
	Trigger int
	// Reason is short and fixed, for metrics.
	Reason string
	// Message says why, for people; it never holds a secret.
	Message string
}

// AllWarnings are the advice as warnings, then the other warnings.
func (v Verdict) AllWarnings() []string {
	all := make([]string, 0, len(v.Advice)+len(v.Warnings))
	for _, a := range v.Advice {
		all = append(all, a.Warning())
	}
	return append(all, v.Warnings...)
}

// Whole returns what stopped the whole check, if anything did.
func (v Verdict) Whole() (Unchecked, bool) {
	for _, u := range v.Unchecked {
		if u.Trigger < 0 {
			return u, true
		}
	}
	return Unchecked{}, false
}

// Message is the violations in the words of a denial: the text the API server gives
// the client after `ScaledObject.keda.sh "name" is invalid: `.
func (vs Violations) Message() string {
	if len(vs) == 0 {
		return ""
	}
	return vs.ErrorList().ToAggregate().Error()
}
