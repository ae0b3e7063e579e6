// Package annotations names every annotation innokeda reads or writes (innokeda.io/...), in
// one place: what users put on an InnoDBCluster, and what innokeda records on the objects
// it fills or keeps.
package annotations

// Prefix is the domain of every innokeda annotation.
const Prefix = "innokeda.io/"

// On an InnoDBCluster: what its owner tells innokeda to do.
const (
	// Autofill opts the cluster in: only the value "true" does.
	Autofill = Prefix + "autofill"
	// Database is the dbName filled into mysql triggers that have none.
	Database = Prefix + "database"
	// HostService picks the service triggers connect to: "instances" (default) or "router".
	HostService = Prefix + "host-service"
	// TriggerAuthentication names a user-owned TriggerAuthentication to reference instead
	// of the one innokeda manages.
	TriggerAuthentication = Prefix + "trigger-authentication"
	// ScalerAccount picks the MySQL account KEDA polls with: "root" (the default, the
	// cluster's root account) or "managed" (a least-privilege account innokeda keeps).
	ScalerAccount = Prefix + "scaler-account"
	// ScalerPrivileges lists global privileges the managed account also gets,
	// comma-separated, from innodbcluster.ScalerPrivilegesAllowed only.
	ScalerPrivileges = Prefix + "scaler-privileges"
	// AllowedTables bounds what every trigger of the cluster may read, whatever account it
	// polls with: comma-separated schema.table or schema.* (innodbcluster.AllowedTables).
	AllowedTables = Prefix + "allowed-tables"
)

// On an InnoDBCluster: the ScaledObject innokeda generates for it (package managed).
const (
	Query                = Prefix + "query"
	QueryValue           = Prefix + "query-value"
	ActivationQueryValue = Prefix + "activation-query-value"
	MinReplicas          = Prefix + "min-replicas"
	MaxReplicas          = Prefix + "max-replicas"
	PollingInterval      = Prefix + "polling-interval"
	CooldownPeriod       = Prefix + "cooldown-period"
)

// What innokeda records.
const (
	// Autofilled lists, on a ScaledObject, the field paths innokeda filled.
	Autofilled = Prefix + "autofilled"
	// ScalerAccountExists on the TriggerAuthentication records that innokeda has made the
	// cluster's scaler account, until it has dropped it: whether the account must be
	// dropped is then known without connecting to MySQL, even if the Secret has gone.
	ScalerAccountExists = Prefix + "scaler-account-exists"
)

// IgnoreCheckPrefix, followed by a rule's ID, opts one object out of that rule of innokeda
// lint: ignore-check.innokeda.io/<rule-id>, its value saying why.
const IgnoreCheckPrefix = "ignore-check." + Prefix
