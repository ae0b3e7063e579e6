package harness

import (
	"context"
	"testing"
)

func TestMariaDB(t *testing.T) {
	m, err := StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	ctx := context.Background()
	sum, err := m.TableChecksum(ctx)
	if err != nil || sum == "0" {
		t.Fatalf("checksum %q, %v", sum, err)
	}
	tables, err := m.Tables(ctx)
	if err != nil || len(tables) != 1 {
		t.Fatalf("tables %v, %v", tables, err)
	}
}
