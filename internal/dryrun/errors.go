package dryrun

import "fmt"

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
	return fmt.Sprintf("MySQL error %d (%s)", e.Number, errorName(e.Number))
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
	if !quotedErrors[e.Number] || e.Number == erAccessDenied || namesUser[e.Number] && !userShown || !databaseShown {
		return "", false
	}
	return e.message, true
}

// Quoted tells whether Text could give the error's text (with every value shown).
func (e *ServerError) Quoted() bool { return quotedErrors[e.Number] }

// namesUser are the quotedErrors whose message names the connection's user.
var namesUser = map[uint16]bool{1044: true, 1142: true, 1143: true, 1370: true}

// erAccessDenied is a wrong user or password.
const erAccessDenied = 1045

// MySQL error numbers that mean "not now" rather than "wrong".
const (
	erTooManyConnections        = 1040
	erTooManyUserConnections    = 1203
	erUserLimitReached          = 1226
	erMariaDBStatementTimeout   = 1969
	erMySQLExecutionTimeExceeds = 3024
)

// quotedErrors are the errors whose message says only what the query or the account
// named (a syntax error quotes the query near the error, an unknown table its name and
// the database, access denied the user name), never a value read from a table.
var quotedErrors = map[uint16]bool{
	1044: true, 1045: true, 1046: true, 1049: true, 1052: true, 1054: true, 1055: true, 1064: true,
	1111: true, 1142: true, 1143: true, 1146: true, 1241: true, 1242: true, 1305: true, 1370: true,
	1582: true, 1583: true, 1792: true,
}

// errorNames are MySQL's names for the errors a dry-run or an account statement meets most.
var errorNames = map[uint16]string{
	1040: "ER_CON_COUNT_ERROR",
	1044: "ER_DBACCESS_DENIED_ERROR",
	1045: "ER_ACCESS_DENIED_ERROR",
	1046: "ER_NO_DB_ERROR",
	1048: "ER_BAD_NULL_ERROR",
	1049: "ER_BAD_DB_ERROR",
	1052: "ER_NON_UNIQ_ERROR",
	1054: "ER_BAD_FIELD_ERROR",
	1055: "ER_WRONG_FIELD_WITH_GROUP",
	1062: "ER_DUP_ENTRY",
	1064: "ER_PARSE_ERROR",
	1105: "ER_UNKNOWN_ERROR",
	1111: "ER_INVALID_GROUP_FUNC_USE",
	1141: "ER_NONEXISTING_GRANT",
	1142: "ER_TABLEACCESS_DENIED_ERROR",
	1143: "ER_COLUMNACCESS_DENIED_ERROR",
	1146: "ER_NO_SUCH_TABLE",
	1147: "ER_NONEXISTING_TABLE_GRANT",
	1193: "ER_UNKNOWN_SYSTEM_VARIABLE",
	1203: "ER_TOO_MANY_USER_CONNECTIONS",
	1226: "ER_USER_LIMIT_REACHED",
	1227: "ER_SPECIFIC_ACCESS_DENIED_ERROR",
	1241: "ER_OPERAND_COLUMNS",
	1242: "ER_SUBQUERY_NO_1_ROW",
	1269: "ER_REVOKE_GRANTS",
	1290: "ER_OPTION_PREVENTS_STATEMENT",
	1292: "ER_TRUNCATED_WRONG_VALUE",
	1305: "ER_SP_DOES_NOT_EXIST",
	1317: "ER_QUERY_INTERRUPTED",
	1365: "ER_DIVISION_BY_ZERO",
	1366: "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
	1370: "ER_PROCACCESS_DENIED_ERROR",
	1396: "ER_CANNOT_USER",
	1403: "ER_NONEXISTING_PROC_GRANT",
	1410: "ER_CANT_CREATE_USER_WITH_GRANT",
	1470: "ER_WRONG_STRING_LENGTH",
	1582: "ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT",
	1583: "ER_WRONG_PARAMETERS_TO_NATIVE_FCT",
	1690: "ER_DATA_OUT_OF_RANGE",
	1792: "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION",
	1819: "ER_NOT_VALID_PASSWORD",
	1820: "ER_MUST_CHANGE_PASSWORD",
	1862: "ER_MUST_CHANGE_PASSWORD_LOGIN",
	1969: "ER_STATEMENT_TIMEOUT",
	3024: "ER_QUERY_TIMEOUT",
	3100: "ER_RUN_HOOK_ERROR",
	3118: "ER_ACCOUNT_HAS_BEEN_LOCKED",
	3628: "ER_MANDATORY_ROLE",
	3638: "ER_CREDENTIALS_CONTRADICT_TO_HISTORY",
	4151: "ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)",
}

func errorName(n uint16) string {
	if name, ok := errorNames[n]; ok {
		return name
	}
	return "see MySQL's error reference"
}
