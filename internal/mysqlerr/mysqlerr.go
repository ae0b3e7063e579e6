// Package mysqlerr is the one table of the MySQL and MariaDB server error numbers innokeda
// acts on or reports, each with the server's own name for it (MySQL's mysqld_error.h, and
// MariaDB's where its number differs), so that no package writes a bare number.
package mysqlerr

// The server errors innokeda meets: in the handshake, in a dry-run, in the statements that
// keep a scaler account.
const (
	ConCount                         = 1040 // ER_CON_COUNT_ERROR: the server's max_connections reached
	DBAccessDenied                   = 1044 // ER_DBACCESS_DENIED_ERROR
	AccessDenied                     = 1045 // ER_ACCESS_DENIED_ERROR
	NoDB                             = 1046 // ER_NO_DB_ERROR
	BadNull                          = 1048 // ER_BAD_NULL_ERROR
	BadDB                            = 1049 // ER_BAD_DB_ERROR
	NonUniq                          = 1052 // ER_NON_UNIQ_ERROR
	BadField                         = 1054 // ER_BAD_FIELD_ERROR
	WrongFieldWithGroup              = 1055 // ER_WRONG_FIELD_WITH_GROUP
	DupEntry                         = 1062 // ER_DUP_ENTRY
	Parse                            = 1064 // ER_PARSE_ERROR
	Unknown                          = 1105 // ER_UNKNOWN_ERROR
	InvalidGroupFuncUse              = 1111 // ER_INVALID_GROUP_FUNC_USE
	NonexistingGrant                 = 1141 // ER_NONEXISTING_GRANT
	TableAccessDenied                = 1142 // ER_TABLEACCESS_DENIED_ERROR
	ColumnAccessDenied               = 1143 // ER_COLUMNACCESS_DENIED_ERROR
	NoSuchTable                      = 1146 // ER_NO_SUCH_TABLE
	NonexistingTableGrant            = 1147 // ER_NONEXISTING_TABLE_GRANT
	UnknownSystemVariable            = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
	TooManyUserConnections           = 1203 // ER_TOO_MANY_USER_CONNECTIONS
	UserLimitReached                 = 1226 // ER_USER_LIMIT_REACHED
	SpecificAccessDenied             = 1227 // ER_SPECIFIC_ACCESS_DENIED_ERROR
	OperandColumns                   = 1241 // ER_OPERAND_COLUMNS
	SubqueryNo1Row                   = 1242 // ER_SUBQUERY_NO_1_ROW
	RevokeGrants                     = 1269 // ER_REVOKE_GRANTS
	OptionPreventsStatement          = 1290 // ER_OPTION_PREVENTS_STATEMENT: read_only, super_read_only
	TruncatedWrongValue              = 1292 // ER_TRUNCATED_WRONG_VALUE
	SPDoesNotExist                   = 1305 // ER_SP_DOES_NOT_EXIST
	QueryInterrupted                 = 1317 // ER_QUERY_INTERRUPTED
	DivisionByZero                   = 1365 // ER_DIVISION_BY_ZERO
	TruncatedWrongValueForField      = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
	ProcAccessDenied                 = 1370 // ER_PROCACCESS_DENIED_ERROR
	CannotUser                       = 1396 // ER_CANNOT_USER
	NonexistingProcGrant             = 1403 // ER_NONEXISTING_PROC_GRANT
	CantCreateUserWithGrant          = 1410 // ER_CANT_CREATE_USER_WITH_GRANT
	WrongStringLength                = 1470 // ER_WRONG_STRING_LENGTH
	WrongParamCountToNativeFunction  = 1582 // ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
	WrongParametersToNativeFunction  = 1583 // ER_WRONG_PARAMETERS_TO_NATIVE_FCT
	DataOutOfRange                   = 1690 // ER_DATA_OUT_OF_RANGE
	CantExecuteInReadOnlyTransaction = 1792 // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	NotValidPassword                 = 1819 // ER_NOT_VALID_PASSWORD
	MustChangePassword               = 1820 // ER_MUST_CHANGE_PASSWORD
	MustChangePasswordLogin          = 1862 // ER_MUST_CHANGE_PASSWORD_LOGIN
	StatementTimeout                 = 1969 // ER_STATEMENT_TIMEOUT: MariaDB: max_statement_time reached
	QueryTimeout                     = 3024 // ER_QUERY_TIMEOUT: MySQL: max_execution_time reached
	RunHook                          = 3100 // ER_RUN_HOOK_ERROR
	AccountHasBeenLocked             = 3118 // ER_ACCOUNT_HAS_BEEN_LOCKED
	MandatoryRole                    = 3628 // ER_MANDATORY_ROLE
	CredentialsContradictToHistory   = 3638 // ER_CREDENTIALS_CONTRADICT_TO_HISTORY
	MariaDBAccountHasBeenLocked      = 4151 // ER_ACCOUNT_HAS_BEEN_LOCKED: MariaDB's number for a locked account
)

// names are the server's names for the numbers above.
var names = map[uint16]string{
	ConCount:                         "ER_CON_COUNT_ERROR",
	DBAccessDenied:                   "ER_DBACCESS_DENIED_ERROR",
	AccessDenied:                     "ER_ACCESS_DENIED_ERROR",
	NoDB:                             "ER_NO_DB_ERROR",
	BadNull:                          "ER_BAD_NULL_ERROR",
	BadDB:                            "ER_BAD_DB_ERROR",
	NonUniq:                          "ER_NON_UNIQ_ERROR",
	BadField:                         "ER_BAD_FIELD_ERROR",
	WrongFieldWithGroup:              "ER_WRONG_FIELD_WITH_GROUP",
	DupEntry:                         "ER_DUP_ENTRY",
	Parse:                            "ER_PARSE_ERROR",
	Unknown:                          "ER_UNKNOWN_ERROR",
	InvalidGroupFuncUse:              "ER_INVALID_GROUP_FUNC_USE",
	NonexistingGrant:                 "ER_NONEXISTING_GRANT",
	TableAccessDenied:                "ER_TABLEACCESS_DENIED_ERROR",
	ColumnAccessDenied:               "ER_COLUMNACCESS_DENIED_ERROR",
	NoSuchTable:                      "ER_NO_SUCH_TABLE",
	NonexistingTableGrant:            "ER_NONEXISTING_TABLE_GRANT",
	UnknownSystemVariable:            "ER_UNKNOWN_SYSTEM_VARIABLE",
	TooManyUserConnections:           "ER_TOO_MANY_USER_CONNECTIONS",
	UserLimitReached:                 "ER_USER_LIMIT_REACHED",
	SpecificAccessDenied:             "ER_SPECIFIC_ACCESS_DENIED_ERROR",
	OperandColumns:                   "ER_OPERAND_COLUMNS",
	SubqueryNo1Row:                   "ER_SUBQUERY_NO_1_ROW",
	RevokeGrants:                     "ER_REVOKE_GRANTS",
	OptionPreventsStatement:          "ER_OPTION_PREVENTS_STATEMENT",
	TruncatedWrongValue:              "ER_TRUNCATED_WRONG_VALUE",
	SPDoesNotExist:                   "ER_SP_DOES_NOT_EXIST",
	QueryInterrupted:                 "ER_QUERY_INTERRUPTED",
	DivisionByZero:                   "ER_DIVISION_BY_ZERO",
	TruncatedWrongValueForField:      "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
	ProcAccessDenied:                 "ER_PROCACCESS_DENIED_ERROR",
	CannotUser:                       "ER_CANNOT_USER",
	NonexistingProcGrant:             "ER_NONEXISTING_PROC_GRANT",
	CantCreateUserWithGrant:          "ER_CANT_CREATE_USER_WITH_GRANT",
	WrongStringLength:                "ER_WRONG_STRING_LENGTH",
	WrongParamCountToNativeFunction:  "ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT",
	WrongParametersToNativeFunction:  "ER_WRONG_PARAMETERS_TO_NATIVE_FCT",
	DataOutOfRange:                   "ER_DATA_OUT_OF_RANGE",
	CantExecuteInReadOnlyTransaction: "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION",
	NotValidPassword:                 "ER_NOT_VALID_PASSWORD",
	MustChangePassword:               "ER_MUST_CHANGE_PASSWORD",
	MustChangePasswordLogin:          "ER_MUST_CHANGE_PASSWORD_LOGIN",
	StatementTimeout:                 "ER_STATEMENT_TIMEOUT",
	QueryTimeout:                     "ER_QUERY_TIMEOUT",
	RunHook:                          "ER_RUN_HOOK_ERROR",
	AccountHasBeenLocked:             "ER_ACCOUNT_HAS_BEEN_LOCKED",
	MandatoryRole:                    "ER_MANDATORY_ROLE",
	CredentialsContradictToHistory:   "ER_CREDENTIALS_CONTRADICT_TO_HISTORY",
	MariaDBAccountHasBeenLocked:      "ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)",
}

// Name is the server's name for error n, or where to look it up.
func Name(n uint16) string {
	if name, ok := names[n]; ok {
		return name
	}
	return "see MySQL's error reference"
}
