package harness

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// A MariaDB server shared by the tests of one package, started by the first that needs
// it, so that a test binary that runs none of them (a fuzzing worker) starts none.
var (
	sharedOnce    sync.Once
	sharedMariaDB *MariaDB
	sharedErr     error
)

// SharedMariaDB returns the package's MariaDB server, starting it on first use. TestMain
// stops it with StopSharedMariaDB.
func SharedMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	sharedOnce.Do(func() { sharedMariaDB, sharedErr = StartMariaDB() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedMariaDB
}

// StopSharedMariaDB stops the shared server if a test started it.
func StopSharedMariaDB() {
	if sharedMariaDB != nil {
		sharedMariaDB.Stop()
	}
}

// DecodeManifests decodes multi-document YAML (or JSON) into objects, skipping empty documents.
func DecodeManifests(manifests []byte) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := decoder.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}
