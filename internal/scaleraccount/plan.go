package scaleraccount

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/innokeda/innokeda/internal/sqltables"
)

// Table is a table the account may SELECT from: a sqltables.Table converts to it.
type Table struct{ Schema, Name string }

func (t Table) String() string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

// Desired is the account as it should be.
type Desired struct {
	User string // e.g. innokeda_scaler
	Host string // e.g. %
	// Password is the account's password, from a Secret innokeda owns (GeneratePassword).
	// It never appears in an error or a log: statements holding it are shown redacted.
	Password string
	// NewPassword, when set, is called when the account must be created or its password
	// no longer works: the password set is the one it returns (and stores), not Password.
	// So a password someone else put into the Secret is never set on the server: only one
	// this process has just generated.
	NewPassword func() (string, error)
	// MaxUserConnections bounds the account's sessions; 0 means DefaultMaxUserConnections.
	// See ConnectionLimit.
	MaxUserConnections int
	// Tables are the tables the account may SELECT from, and the only ones.
	Tables []Table
	// Privileges are global privileges beside them, from AllowedPrivileges only.
	Privileges []string
}

// AllowedPrivileges are the global privileges the account may be given: PROCESS (to
// read information_schema.PROCESSLIST) and REPLICATION CLIENT (replication status).
var AllowedPrivileges = []string{"PROCESS", "REPLICATION CLIENT"}

// privilegeSynonyms are names a server prints for an allowed privilege: MariaDB 10.5
// and later call REPLICATION CLIENT BINLOG MONITOR.
var privilegeSynonyms = map[string]string{"BINLOG MONITOR": "REPLICATION CLIENT"}

// The connection limit.
const (
	// DefaultMaxUserConnections is ConnectionLimit(1, 4): one KEDA trigger and innokeda's
	// default --dry-run-max-concurrent.
	DefaultMaxUserConnections = 10
	// maxMaxUserConnections bounds what is asked for (MySQL stores it unsigned, 32 bits).
	maxMaxUserConnections = 1 << 20
)

// ConnectionLimit is the MAX_USER_CONNECTIONS an account needs for triggers KEDA
// triggers that poll with it and dryRuns dry-runs that may run at once (innokeda's
// --dry-run-max-concurrent, summed over its replicas):
//
//   - KEDA's MySQL scaler opens a database/sql pool per trigger and never limits it
//     (sql.Open, no SetMaxOpenConns); it queries from the ScaledObject's polling loop
//     and from the HPA's metric requests, which can overlap, and the pool keeps two
//     idle connections: 2 per trigger;
//   - a dry-run holds one connection and, when it must stop an overrunning statement,
//     opens a second for KILL CONNECTION: 2 per dry-run.
//
// The controller's own check of the password (Conn.Authenticates) needs no share: a
// server that refuses it for the limit has accepted the password.
//
// The dry-runs' share is counted in full so that dry-runs (which anyone who may create
// a ScaledObject can start, with slow queries) can never take the connections KEDA's
// polls need; a dry-run that finds no connection left reports the server as
// unreachable, which is a warning, not a denial, by default.
func ConnectionLimit(triggers, dryRuns int) int {
	return 2*max(triggers, 1) + 2*max(dryRuns, 0)
}

// normalize checks d and returns it with its defaults applied, its privileges in upper
// case and in AllowedPrivileges' order, and its tables sorted without duplicates.
func (d Desired) normalize() (Desired, error) {
	if err := checkName("user name", d.User); err != nil {
		return d, err
	}
	if err := checkLiteral("user name", d.User); err != nil {
		return d, err
	}
	if err := checkName("host", d.Host); err != nil {
		return d, err
	}
	if err := checkLiteral("host", d.Host); err != nil {
		return d, err
	}
	if d.Password == "" {
		return d, fmt.Errorf("the password of %s is empty", account(d.User, d.Host))
	}
	if err := checkLiteral("the password of "+account(d.User, d.Host), d.Password); err != nil {
		return d, err
	}
	switch {
	case d.MaxUserConnections == 0:
		d.MaxUserConnections = DefaultMaxUserConnections
	case d.MaxUserConnections < 0 || d.MaxUserConnections > maxMaxUserConnections:
		return d, fmt.Errorf("MAX_USER_CONNECTIONS %d is not between 1 and %d", d.MaxUserConnections, maxMaxUserConnections)
	}
	wanted := map[string]bool{}
	for _, p := range d.Privileges {
		name := strings.ToUpper(strings.Join(strings.Fields(p), " "))
		if !slices.Contains(AllowedPrivileges, name) {
			return d, fmt.Errorf("global privilege %q is not one the account may hold (%s)", p, strings.Join(AllowedPrivileges, ", "))
		}
		wanted[name] = true
	}
	d.Privileges = nil
	for _, p := range AllowedPrivileges {
		if wanted[p] {
			d.Privileges = append(d.Privileges, p)
		}
	}
	tables := make([]Table, 0, len(d.Tables))
	for _, t := range d.Tables {
		if err := checkName("schema name", t.Schema); err != nil {
			return d, err
		}
		if err := checkName("table name", t.Name); err != nil {
			return d, err
		}
		// Defense in depth: the controller lists tables with sqltables, which says which
		// ones to refuse (the mysql schema, performance_schema, sys, the InnoDB Cluster
		// metadata).
		if why := sqltables.Refused(sqltables.Table(t)); why != "" {
			return d, fmt.Errorf("SELECT on %s is never granted: the query %s", t, why)
		}
		tables = append(tables, t)
	}
	slices.SortFunc(tables, func(a, b Table) int { return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name)) })
	d.Tables = slices.Compact(tables)
	return d, nil
}

// Current is the account as the server has it.
type Current struct {
	Exists bool
	// PasswordWorks: connecting as the account with the desired password succeeded.
	PasswordWorks      bool
	MaxUserConnections int
	// FoldCase: the server's lower_case_table_names is not 0, so it stores and compares
	// schema and table names in lower case.
	FoldCase bool
	// Grants is SHOW GRANTS FOR the account, a line each.
	Grants []string
}

// Kind is what a statement does.
type Kind int

const (
	KindCreate   Kind = iota // CREATE USER
	KindPassword             // ALTER USER ... IDENTIFIED BY
	KindLimit                // ALTER USER ... WITH MAX_USER_CONNECTIONS
	KindRevoke
	KindGrant
)

// Statement is one statement of a plan.
type Statement struct {
	Kind Kind
	// SQL is the statement as sent. For KindCreate and KindPassword it holds the password:
	// show Redacted instead (String does).
	SQL      string
	Redacted string
	// What is for a grant or revoke: the privileges and their object, e.g. SELECT ON `db`.`t`.
	What string
	// Table is the table a KindGrant of SELECT is on.
	Table *Table
}

// String is the statement without the password.
func (s Statement) String() string { return s.Redacted }

// PasswordPlaceholder stands for the password in a statement as shown (Statement.Redacted),
// which is built with it, not from the statement by taking the password out.
const PasswordPlaceholder = "[password]"

// Plan returns the statements that turn current into d, in order: create the account,
// or set its password (only when it no longer works) and its connection limit; revoke
// what it holds beyond d (least privilege first); grant what it lacks.
func Plan(current Current, d Desired) ([]Statement, error) {
	d, err := d.normalize()
	if err != nil {
		return nil, err
	}
	acct := account(d.User, d.Host)
	// secret is a statement that holds the password, between before and after.
	secret := func(kind Kind, before, after string) Statement {
		return Statement{Kind: kind, SQL: before + quoteString(d.Password) + after, Redacted: before + PasswordPlaceholder + after}
	}
	plain := func(kind Kind, sql, what string) Statement {
		return Statement{Kind: kind, SQL: sql, Redacted: sql, What: what}
	}
	var plan []Statement
	if !current.Exists {
		// IF NOT EXISTS: another innokeda may have created it since it was read.
		plan = append(plan, secret(KindCreate, "CREATE USER IF NOT EXISTS "+acct+" IDENTIFIED BY ",
			fmt.Sprintf(" WITH MAX_USER_CONNECTIONS %d", d.MaxUserConnections)))
		current.Grants = nil
	} else {
		if !current.PasswordWorks {
			plan = append(plan, secret(KindPassword, "ALTER USER "+acct+" IDENTIFIED BY ", ""))
		}
		if current.MaxUserConnections != d.MaxUserConnections {
			plan = append(plan, plain(KindLimit, fmt.Sprintf("ALTER USER %s WITH MAX_USER_CONNECTIONS %d", acct, d.MaxUserConnections), ""))
		}
	}

	tableKey := func(t Table) Table {
		if current.FoldCase {
			return Table{strings.ToLower(t.Schema), strings.ToLower(t.Name)}
		}
		return t
	}
	wantTables := map[Table]bool{}
	for _, t := range d.Tables {
		wantTables[tableKey(t)] = true
	}
	haveTables := map[Table]bool{}
	haveGlobal := map[string]bool{}
	for i, line := range current.Grants {
		g, ok, err := parseGrant(line)
		if err != nil {
			return nil, fmt.Errorf("%s of %s: %w", describe(i), acct, err)
		}
		if !ok {
			continue
		}
		if g.defaultRole {
			// Left behind once the role is revoked (MariaDB, the only server to print it).
			plan = append(plan, plain(KindRevoke, "SET DEFAULT ROLE NONE FOR "+acct, "DEFAULT ROLE"))
			continue
		}
		if len(g.roles) > 0 {
			what := strings.Join(g.roles, ", ")
			plan = append(plan, plain(KindRevoke, fmt.Sprintf("REVOKE %s FROM %s", what, acct), what))
			continue
		}
		var revoke []string
		for _, p := range g.privileges {
			switch {
			case p.name == "USAGE" && len(p.columns) == 0:
				continue // no privilege at all
			case g.on.kind == objectGlobal && len(p.columns) == 0 && slices.Contains(d.Privileges, canonical(p.name)):
				haveGlobal[canonical(p.name)] = true
				continue
			case g.on.kind == objectTable && p.name == "SELECT" && len(p.columns) == 0:
				t := tableKey(Table{g.on.schema, g.on.name})
				if wantTables[t] {
					haveTables[t] = true
					continue
				}
			}
			revoke = append(revoke, p.String())
		}
		if g.grantOption {
			revoke = append(revoke, "GRANT OPTION")
		}
		if len(revoke) > 0 {
			what := strings.Join(revoke, ", ") + " ON " + g.on.String()
			plan = append(plan, plain(KindRevoke, fmt.Sprintf("REVOKE %s FROM %s", what, acct), what))
		}
	}

	var grantGlobal []string
	for _, p := range d.Privileges {
		if !haveGlobal[p] {
			grantGlobal = append(grantGlobal, p)
		}
	}
	if len(grantGlobal) > 0 {
		what := strings.Join(grantGlobal, ", ") + " ON *.*"
		plan = append(plan, plain(KindGrant, fmt.Sprintf("GRANT %s TO %s", what, acct), what))
	}
	for _, t := range d.Tables {
		if haveTables[tableKey(t)] {
			continue
		}
		haveTables[tableKey(t)] = true // a duplicate under FoldCase
		what := "SELECT ON " + t.String()
		s := plain(KindGrant, fmt.Sprintf("GRANT %s TO %s", what, acct), what)
		s.Table = &t
		plan = append(plan, s)
	}
	return plan, nil
}

// canonical is the name of a privilege as AllowedPrivileges spells it.
func canonical(name string) string {
	if c, ok := privilegeSynonyms[name]; ok {
		return c
	}
	return name
}
