#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd) from Go modules into a
# version-keyed cache outside the repository and prints its path. setup-envtest
# cannot be used here: it downloads binaries from outside the Go module proxy.
# A second run finds the binaries and returns at once.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" { sub(/^v/, "", $2); print $2 }' "$root/tools/envtest/kube-apiserver/go.mod" | head -n1)
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$root/tools/envtest/etcd/go.mod" | head -n1)
dir="${ENVTEST_ASSETS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s/${k8s_version}-etcd-${etcd_version}-$(go env GOOS)-$(go env GOARCH)}"

build() { # build <module dir> <package> <output name>
  if [ -x "$dir/$3" ]; then return; fi
  echo "building $3 into $dir (first run only, a few minutes)" >&2
  mkdir -p "$dir"
  (cd "$root/tools/envtest/$1" && go build -trimpath -ldflags="-s -w" -o "$dir/$3.tmp" "$2")
  mv "$dir/$3.tmp" "$dir/$3"
}

build etcd go.etcd.io/etcd/server/v3 etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
echo "$dir"
