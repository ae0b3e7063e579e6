package innodbcluster

import "fmt"

// Annotations users put on an InnoDBCluster to tell innokeda what to do.
const (
	// AnnotationAutofill opts the cluster in: only the value "true" does.
	AnnotationAutofill = "innokeda.io/autofill"
	// AnnotationDatabase is the dbName filled into mysql triggers that have none.
	AnnotationDatabase = "innokeda.io/database"
	// AnnotationHostService picks the service triggers connect to: "instances" (default) or "router".
	AnnotationHostService = "innokeda.io/host-service"
	// AnnotationTriggerAuthentication names a user-owned TriggerAuthentication to reference
	// instead of the one innokeda manages.
	AnnotationTriggerAuthentication = "innokeda.io/trigger-authentication"
)

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
func SettingsFromAnnotations(annotations map[string]string) (Settings, []string) {
	s := Settings{
		Database:              annotations[AnnotationDatabase],
		HostService:           HostServiceInstances,
		TriggerAuthentication: annotations[AnnotationTriggerAuthentication],
	}
	var warnings []string
	switch v := HostService(annotations[AnnotationHostService]); v {
	case "", HostServiceInstances:
	case HostServiceRouter:
		s.HostService = HostServiceRouter
	default:
		warnings = append(warnings, fmt.Sprintf("annotation %s=%q on the InnoDBCluster is not %q or %q; using %q",
			AnnotationHostService, string(v), HostServiceInstances, HostServiceRouter, HostServiceInstances))
	}
	return s, warnings
}
