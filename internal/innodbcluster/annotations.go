package innodbcluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/innokeda/innokeda/internal/annotations"
)

// TablePattern is one entry of annotations.AllowedTables: a table of a schema, or every
// table of it (Table "*"). Names compare byte for byte, as MySQL compares them on Linux,
// except information_schema's, which MySQL compares without regard to case: its entries
// are kept as InformationSchema and the table's name in upper case.
type TablePattern struct{ Schema, Table string }

// InformationSchema is how a TablePattern names information_schema.
const InformationSchema = "information_schema"

// AllowedTables reads annotations.AllowedTables. set is false when the annotation is absent
// or blank. Each entry that is not schema.table or schema.* (unquoted identifiers:
// letters, digits, _ and $) is a problem, and the caller must then allow nothing: a bound
// the owner wrote is never widened because part of it could not be read.
func AllowedTables(given map[string]string) (patterns []TablePattern, set bool, problems []string) {
	value, ok := given[annotations.AllowedTables]
	if !ok || strings.TrimSpace(value) == "" {
		return nil, false, nil
	}
	for _, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		schema, table, found := strings.Cut(entry, ".")
		if !found || !isIdentifier(schema) || table != "*" && !isIdentifier(table) {
			problems = append(problems, fmt.Sprintf("annotation %s: %q is not schema.table or schema.*", annotations.AllowedTables, entry))
			continue
		}
		if strings.EqualFold(schema, InformationSchema) {
			schema, table = InformationSchema, strings.ToUpper(table)
		}
		patterns = append(patterns, TablePattern{Schema: schema, Table: table})
	}
	return patterns, true, problems
}

// isIdentifier tells whether s is an unquoted MySQL identifier of ASCII letters, digits,
// _ and $, and not only digits.
func isIdentifier(s string) bool {
	digits := true
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
			digits = false
		default:
			return false
		}
	}
	return s != "" && !digits
}

// ScalerAccount is the account KEDA polls a cluster with.
type ScalerAccount string

const (
	ScalerAccountRoot    ScalerAccount = "root"
	ScalerAccountManaged ScalerAccount = "managed"
)

// ScalerPrivilegesAllowed are the global privileges a managed scaler account may be annotations:
// PROCESS for queries over the processlist, REPLICATION CLIENT for replication status.
// Nothing that writes, reads every table or administers the server.
var ScalerPrivilegesAllowed = []string{"PROCESS", "REPLICATION CLIENT"}

// ScalerSettings is what a cluster's annotations ask of its scaler account.
type ScalerSettings struct {
	Account    ScalerAccount
	Privileges []string // from ScalerPrivilegesAllowed, sorted, without duplicates
}

// ScalerSettingsFromAnnotations reads the scaler account annotations. Unlike the fill
// settings, an unusable value is not replaced by a default: switching the account KEDA
// polls with is not something to guess, so the problems are returned and the caller
// changes nothing.
func ScalerSettingsFromAnnotations(given map[string]string) (ScalerSettings, []string) {
	var s ScalerSettings
	var problems []string
	switch v := ScalerAccount(strings.TrimSpace(given[annotations.ScalerAccount])); v {
	case "", ScalerAccountRoot:
		s.Account = ScalerAccountRoot
	case ScalerAccountManaged:
		s.Account = ScalerAccountManaged
	default:
		problems = append(problems, fmt.Sprintf("annotation %s=%q is not %q or %q", annotations.ScalerAccount, string(v), ScalerAccountManaged, ScalerAccountRoot))
	}
	for _, p := range strings.Split(given[annotations.ScalerPrivileges], ",") {
		p = strings.Join(strings.Fields(strings.ToUpper(p)), " ")
		switch {
		case p == "":
		case !slices.Contains(ScalerPrivilegesAllowed, p):
			problems = append(problems, fmt.Sprintf("annotation %s names %q, which innokeda does not grant: only %s",
				annotations.ScalerPrivileges, p, strings.Join(ScalerPrivilegesAllowed, " and ")))
		case !slices.Contains(s.Privileges, p):
			s.Privileges = append(s.Privileges, p)
		}
	}
	slices.Sort(s.Privileges)
	return s, problems
}

// ManagedScalerAccount tells whether annotations ask, validly, for the managed scaler
// account, with the settings they give.
func ManagedScalerAccount(given map[string]string) (ScalerSettings, bool) {
	settings, problems := ScalerSettingsFromAnnotations(given)
	return settings, len(problems) == 0 && settings.Account == ScalerAccountManaged
}

// HostService is the service that triggers are pointed at.
type HostService string

const (
	HostServiceInstances HostService = "instances"
	HostServiceRouter    HostService = "router"
)

// Settings is what the annotations of one InnoDBCluster ask of innokeda.
type Settings struct {
	Database              string
	HostService           HostService
	TriggerAuthentication string
}

// SettingsFromAnnotations reads a cluster's annotations. An unusable value does not stop
// anything: the default applies and the returned warning says so.
func SettingsFromAnnotations(given map[string]string) (Settings, []string) {
	s := Settings{
		Database:              given[annotations.Database],
		HostService:           HostServiceInstances,
		TriggerAuthentication: given[annotations.TriggerAuthentication],
	}
	var warnings []string
	switch v := HostService(given[annotations.HostService]); v {
	case "", HostServiceInstances:
	case HostServiceRouter:
		s.HostService = HostServiceRouter
	default:
		warnings = append(warnings, fmt.Sprintf("annotation %s=%q on the InnoDBCluster is not %q or %q; using %q",
			annotations.HostService, string(v), HostServiceInstances, HostServiceRouter, HostServiceInstances))
	}
	return s, warnings
}
