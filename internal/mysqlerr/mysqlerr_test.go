package mysqlerr

import "testing"

func TestName(t *testing.T) {
	for n, want := range map[uint16]string{
		AccessDenied:                "ER_ACCESS_DENIED_ERROR",
		ConCount:                    "ER_CON_COUNT_ERROR",
		StatementTimeout:            "ER_STATEMENT_TIMEOUT",
		QueryTimeout:                "ER_QUERY_TIMEOUT",
		MariaDBAccountHasBeenLocked: "ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)",
		1:                           "see MySQL's error reference",
	} {
		if got := Name(n); got != want {
			t.Errorf("Name(%d) = %q, want %q", n, got, want)
		}
	}
}
