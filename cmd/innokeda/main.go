// Command innokeda is the innokeda manager: admission webhooks that fill and check KEDA
// ScaledObjects for MySQL InnoDBClusters.
package main

import (
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/innokeda/innokeda/internal/app"
)

func main() {
	// innokeda lint is a command of its own: it reads files and exits, so it takes no
	// signal handler (which would swallow the first SIGTERM).
	if len(os.Args) > 1 && os.Args[1] == "lint" {
		os.Exit(app.Lint(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if err := app.Run(ctrl.SetupSignalHandler(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "innokeda:", err)
		os.Exit(1)
	}
}
