package dryrun

import (
	"fmt"

	"github.com/innokeda/innokeda/internal/mysqlerr"
)

// ServerError is MySQL rejecting the connection or the query: wrong password, missing
// privilege, syntax error, unknown table or column.
//
// A server's message can carry anything the query read: EXTRACTVALUE(1, (SELECT
// authentication_string ...)) returns the hash inside an "XPATH syntax error", a failed
// conversion quotes the value. Even the errors whose message is built from names alone
// (quotedErrors) name the connection's user and database, which may have come from a
// Secret, cut and re-encoded by the server (MariaDB keeps 128 characters of a user
// name, and sends a byte it cannot show as '?'). So Error gives the number and MySQL's
// name for it, never the text; Text gives the text of a quotedError to a caller that
// knows where the user and database came from.
type ServerError struct {
	Number  uint16
	message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("MySQL error %d (%s)", e.Number, mysqlerr.Name(e.Number))
}

// Text is the server's message, when the error is one whose message is built from the
// query's text and names, the user name and the database alone (quotedErrors), and each of
// the connection's values it can name may be shown: the user's name (userShown) and the
// database's (databaseShown; a table or routine the query names without a schema is
// qualified with it). ok is false otherwise; for any other error, the text may hold
// data the query read.
//
// Access denied (1045) is never given: its text ends "(using password: NO)" when the
// password is empty, which tells whether a Secret's password is.
func (e *ServerError) Text(userShown, databaseShown bool) (text string, ok bool) {
	if !quotedErrors[e.Number] || e.Number == mysqlerr.AccessDenied || namesUser[e.Number] && !userShown || !databaseShown {
		return "", false
	}
	return e.message, true
}

// Quoted tells whether Text could give the error's text (with every value shown).
func (e *ServerError) Quoted() bool { return quotedErrors[e.Number] }

// namesUser are the quotedErrors whose message names the connection's user.
var namesUser = map[uint16]bool{mysqlerr.DBAccessDenied: true, mysqlerr.TableAccessDenied: true, mysqlerr.ColumnAccessDenied: true, mysqlerr.ProcAccessDenied: true}

// quotedErrors are the errors whose message says only what the query or the account
// named (a syntax error quotes the query near the error, an unknown table its name and
// the database, access denied the user name), never a value read from a table.
var quotedErrors = map[uint16]bool{
	mysqlerr.DBAccessDenied: true, mysqlerr.AccessDenied: true, mysqlerr.NoDB: true, mysqlerr.BadDB: true, mysqlerr.NonUniq: true, mysqlerr.BadField: true, mysqlerr.WrongFieldWithGroup: true, mysqlerr.Parse: true,
	mysqlerr.InvalidGroupFuncUse: true, mysqlerr.TableAccessDenied: true, mysqlerr.ColumnAccessDenied: true, mysqlerr.NoSuchTable: true, mysqlerr.OperandColumns: true, mysqlerr.SubqueryNo1Row: true, mysqlerr.SPDoesNotExist: true, mysqlerr.ProcAccessDenied: true,
	mysqlerr.WrongParamCountToNativeFunction: true, mysqlerr.WrongParametersToNativeFunction: true, mysqlerr.CantExecuteInReadOnlyTransaction: true,
}
