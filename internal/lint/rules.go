package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/innokeda/innokeda/internal/validation"
)

// Rule is one kind of finding: its stable ID (used in ignore-check.innokeda.io/<id>), its
// severity and what it means. docs/rules.md is RulesPage(), written by make docs.
type Rule struct {
	ID       string
	Severity Severity
	// Summary is one line; Detail says why it matters and how to fix it.
	Summary, Detail string
	// Offline: innokeda lint can find it without the cluster and MySQL.
	Offline bool
}

// Anchor is the rule's section in docs/rules.md, as GitHub names a heading's anchor: in
// lower case (fill-apiVersion is #fill-apiversion).
func (r Rule) Anchor() string { return strings.ToLower(r.ID) }

// RulesURL is where each rule's page is, with #<id> appended.
const RulesURL = "https://github.com/innokeda/innokeda/blob/main/docs/rules.md"

// fillFields are the fields the mutating webhook fills (autofill.Fill.Field).
var fillFields = []struct{ field, what string }{
	{"kind", "scaleTargetRef.kind, when the target names the InnoDBCluster instead of its StatefulSet"},
	{"apiVersion", "scaleTargetRef.apiVersion (apps/v1)"},
	{"name", "scaleTargetRef.name, when the target names the InnoDBCluster instead of its StatefulSet"},
	{"envSourceContainerName", "scaleTargetRef.envSourceContainerName: mysql, the database container (not the first one, sidecar); KEDA fails every trigger when it names no container"},
	{"authenticationRef", "a mysql trigger's authenticationRef: the TriggerAuthentication innokeda keeps for the cluster, or the one the cluster's innokeda.io/trigger-authentication names"},
	{"host", "a mysql trigger's host: the <cluster>-instances service (or the router's, per innokeda.io/host-service), replacing an IP or a host:port"},
	{"port", "a mysql trigger's port: 3306"},
	{"dbName", "a mysql trigger's dbName: the cluster's innokeda.io/database, or the one schema the query names"},
	{"username", "a mysql trigger's username: root, when the cluster's Secret has no rootUser key for the TriggerAuthentication to map"},
	{"minReplicaCount", "minReplicaCount: never 0, which would stop every member (KEDA's default); the cluster's spec.instances, or what a safe step allows"},
	{"maxReplicaCount", "maxReplicaCount: 9, the Group Replication member limit"},
	{"scaleDown", "the HPA's scale-down behavior: one member at a time, every 300 s, after a 600 s window, so that quorum is never at stake"},
	{"scaleUp", "the HPA's scale-up behavior: one member every 120 s, so that each new member's clone ends before the next starts"},
}

// Rules are every rule, in the order the rules page lists them.
var Rules = rules()

func rules() []Rule {
	r := []Rule{
		{validation.ReasonReplicaBounds, Error, "replica bounds a Group Replication cluster cannot run", "minReplicaCount of 0 stops every member and the cluster needs a manual reboot; a maximum above 9 cannot join the group. Keep 1 <= min <= max <= 9 (read replicas are not bound by 9).", true},
		{validation.ReasonEnvSourceContainer, Error, "envSourceContainerName names no container of the target", "KEDA fails every trigger of the ScaledObject. The MySQL Operator's pods run sidecar first, then mysql: name mysql, or leave it out for innokeda to fill.", true},
		{validation.ReasonMissingQuery, Error, "a mysql trigger without a query", "KEDA's mysql scaler needs metadata.query: one SELECT that returns a single number.", true},
		{validation.ReasonQueryValue, Error, "queryValue missing or not a positive number", "KEDA divides the query's result by it to get the desired replicas.", true},
		{validation.ReasonActivationQueryValue, Error, "activationQueryValue not a number at least 0", "KEDA parses it as a float; anything else fails the trigger.", true},
		{validation.ReasonPasswordInMetadata, Error, "a password written into the trigger's metadata", "KEDA's mysql scaler does not read metadata.password, and the ScaledObject is readable by many: put it in a Secret and map it through a TriggerAuthentication (passwordFromEnv for an env variable).", true},
		{validation.ReasonQueryNotReadOnly, Error, "the query is not one read-only SELECT innokeda's guard admits", "KEDA runs the query on every poll. Only a SELECT of allowlisted constructs and built-in functions, without comments, backslashes or non-ASCII text, is admitted (README, what gets checked).", true},
		{validation.ReasonAuthentication, Error, "the credentials KEDA would use are missing, go elsewhere, or are refused", "A TriggerAuthentication, Secret or key that does not exist (KEDA only logs it); the cluster's managed credentials pointed at a host outside the cluster; or MySQL refusing the connection (found by the dry-run).", true},
		{validation.ReasonConnectionString, Error, "the connection string is not a usable DSN, or sets session state", "A go-sql-driver DSN with tcp(host:port) and only parameters that change no server session state (TLS, timeouts); session variables and options such as allowAllFiles are refused.", true},
		{validation.ReasonQueryResult, Error, "the dry-run's result is not one number", "NULL, no row, two columns or a text make KEDA fail the trigger at every poll: wrap aggregates in COALESCE(..., 0) and select one column.", false},
		{validation.ReasonServerRejected, Error, "MySQL refused the query", "An unknown table or column, a syntax error for the server's sql_mode, or a missing privilege, found by the dry-run.", false},
		{validation.ReasonNotValidated, Error, "the query could not be validated, and innokeda is set to deny that", "--on-unreachable=deny: MySQL or the credentials could not be reached within the budget.", false},
		{validation.ReasonScalerGrant, Error, "the managed scaler account could never run the query", "With innokeda.io/scaler-account: managed, KEDA polls as innokeda_scaler, granted SELECT on the query's tables only: a table innokeda never grants, a dbName the query reads nothing of, or a metadata.username that replaces the account.", true},
		{validation.ReasonTooCostly, Error, "more triggers or query text than innokeda checks", "Over --max-mysql-triggers (16) or --max-query-bytes (32 KiB): KEDA scales on the largest trigger, so combine queries into fewer.", true},
		{validation.ReasonSystemSchema, Error, "the query reads a system schema", "No scaler's query may read mysql, sys, performance_schema or the InnoDB Cluster metadata, whatever account it polls as.", true},
		{validation.ReasonReadBound, Error, "the query reads outside the cluster owner's innokeda.io/allowed-tables", "Read only the tables the InnoDBCluster's annotation lists, or ask its owner to add them.", true},
		{validation.ReasonReadBoundUnknown, Error, "with innokeda.io/allowed-tables set, what the query reads cannot be known", "The query names a table without a schema, and the database the connection opens comes from credentials innokeda could not read or from a source it does not read: qualify every table.", false},
	}
	r = append(r,
		Rule{validation.AdviceIgnoredMetadata, Warning, "a trigger metadata key KEDA's mysql scaler does not read", "hostFromEnv, portFromEnv and dbNameFromEnv do not exist for the mysql scaler (only usernameFromEnv, passwordFromEnv and connectionStringFromEnv do), and metricName is replaced by the name KEDA gives the metric: the setting has no effect.", true},
		Rule{validation.AdviceNullableAggregate, Warning, "the query returns NULL when it aggregates no row", "SUM, AVG, MIN and MAX of no rows are NULL, and KEDA fails the poll on NULL: the trigger works while there is load and fails exactly when there is none. Wrap the aggregate in COALESCE(..., 0).", true},
	)
	for _, f := range fillFields {
		r = append(r, Rule{RuleFill + "-" + f.field, Info, "the mutating webhook would fill " + f.field, "At admission innokeda sets " + f.what + ". Write it into the manifest, so that what is stored is what Git holds.", true})
	}
	return append(r,
		Rule{RuleWarning, Warning, "admission would admit with a warning", "What the warning says: it does not deny, but something may not work as meant.", true},
		Rule{RuleEnvSourceContainerMissing, Warning, "envSourceContainerName missing on a target of a cluster innokeda does not fill", "KEDA resolves env from the first container, and the MySQL Operator's pods run sidecar before mysql: a trigger's *FromEnv reads the wrong container. Set envSourceContainerName: mysql, or annotate the InnoDBCluster innokeda.io/autofill: \"true\".", true},
		Rule{RuleNotChecked, Info, "a check innokeda lint could not make", "It needs what the input does not hold: the InnoDBCluster's manifest, or the cluster and MySQL (the dry-run).", true},
		Rule{RuleUnreadable, Error, "an object that does not decode", "The API server would refuse it too: fix the field the message names.", true},
		Rule{RuleIgnoreWithoutReason, Error, "an ignore-check.innokeda.io annotation without a reason", "Say why the rule does not apply, in the annotation's value: an ignore with no reason is not honoured.", true},
		Rule{RuleIgnoreUnknown, Error, "an ignore-check.innokeda.io annotation that names no rule", "A misspelt ID ignores nothing: take it from this page or innokeda lint --rules.", true},
	)
}

// RuleEnvSourceContainerMissing: a target of a cluster that is not annotated, without
// envSourceContainerName (lint only: admission leaves such objects alone).
const RuleEnvSourceContainerMissing = "env-source-container-missing"

// Opt-out annotations that are not honoured: no reason given, or no such rule.
const (
	RuleIgnoreWithoutReason = "ignore-without-reason"
	RuleIgnoreUnknown       = "ignore-unknown-rule"
)

// ruleOf returns the rule of id: fill-<field> and the fixed rules.
func ruleOf(id string) (Rule, bool) {
	i := slices.IndexFunc(Rules, func(r Rule) bool { return r.ID == id })
	if i < 0 {
		return Rule{}, false
	}
	return Rules[i], true
}

// RulesPage is docs/rules.md.
func RulesPage() string {
	var b strings.Builder
	b.WriteString("# innokeda's rules\n\n" +
		"<!-- Written by `make docs` from internal/lint/rules.go; do not edit. -->\n\n" +
		"Every finding of `innokeda lint`, and every reason the validating webhook denies for, has a rule with a\n" +
		"stable ID. Severity: `error` is what admission denies, `warning` what it admits with a warning, `info`\n" +
		"what the mutating webhook would fill. Opt one object out of a rule with the annotation\n" +
		"`ignore-check.innokeda.io/<id>: \"<why>\"` (lint only; admission still decides).\n\n" +
		"| ID | severity | offline | summary |\n|---|---|---|---|\n")
	for _, r := range Rules {
		offline := "yes"
		if !r.Offline {
			offline = "needs the cluster"
		}
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", r.ID, r.Anchor(), r.Severity, offline, r.Summary)
	}
	for _, r := range Rules {
		fmt.Fprintf(&b, "\n## %s\n\n%s: %s. %s\n", r.ID, r.Severity, capitalize(r.Summary), r.Detail)
	}
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
