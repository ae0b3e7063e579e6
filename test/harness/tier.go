package harness

import (
	"fmt"
	"os"
)

// noServersEnv is set by make's unit tier, whose packages run in parallel and must start
// no server: a test there that tries gets this error instead of a slow, flaky run.
const noServersEnv = "INNOKEDA_NO_SERVERS"

// serversAllowed tells whether this test process may start server (a MariaDB, an API server).
func serversAllowed(server string) error {
	if os.Getenv(noServersEnv) != "" {
		return fmt.Errorf("this package's tests start %s, but run in the unit tier (%s is set): list the package in the Makefile's integration_PKGS, e2e_PKGS or packaging_PKGS", server, noServersEnv)
	}
	return nil
}
