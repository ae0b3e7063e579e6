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
	if err := app.Run(ctrl.SetupSignalHandler(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "innokeda:", err)
		os.Exit(1)
	}
}
