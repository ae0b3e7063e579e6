package scaleraccount

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// primaryServer is a server of a replication group, for onPrimary: do fails on it with
// a *ReadOnlyError naming primary, unless it is the primary.
type primaryServer struct {
	fakeAdmin
	address string
	closed  bool
}

func (s *primaryServer) Close() error { s.closed = true; return nil }

func TestOnPrimaryMovesToTheGroupsPrimaryOnce(t *testing.T) {
	const (
		instances = "mycluster-instances.db.svc.cluster.local:3306"
		member1   = "mycluster-1.mycluster-instances.db.svc.cluster.local"
		member2   = "mycluster-2.mycluster-instances.db.svc.cluster.local"
	)
	for _, tc := range []struct {
		name string
		// primaryOf maps the address dialed to the primary that server names ("" when
		// it is the primary itself).
		primaryOf map[string]string
		wantDials []string
		wantErr   string
	}{
		{name: "the first server is the primary", primaryOf: map[string]string{"ip-" + instances: ""},
			wantDials: []string{instances}},
		{name: "a secondary names the primary: it is used, on port 3306 when none is given",
			primaryOf: map[string]string{"ip-" + instances: member1, "ip-" + member1 + ":3306": ""},
			wantDials: []string{instances, member1 + ":3306"}},
		{name: "the primary moved again: no second move, the read-only error",
			primaryOf: map[string]string{"ip-" + instances: member1 + ":3306", "ip-" + member1 + ":3306": member2 + ":3306"},
			wantDials: []string{instances, member1 + ":3306"}, wantErr: "is not the primary"},
		{name: "the primary named is not a member of the cluster",
			primaryOf: map[string]string{"ip-" + instances: "mycluster.db.svc.cluster.local:3306"},
			wantDials: []string{instances, "mycluster.db.svc.cluster.local:3306"}, wantErr: "innokeda may not connect to mycluster.db.svc.cluster.local:3306: not a member"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dials []string
			var sessions []*primaryServer
			dial := func(hostPort string) (string, error) {
				dials = append(dials, hostPort)
				return "ip-" + hostPort, nil
			}
			// Only member pods' names are followed.
			dialPrimary := func(hostPort string) (string, error) {
				if !strings.HasPrefix(hostPort, "mycluster-1.") && !strings.HasPrefix(hostPort, "mycluster-2.") {
					dials = append(dials, hostPort)
					return "", errors.New("not a member")
				}
				return dial(hostPort)
			}
			connect := func(_ context.Context, address string) (session, error) {
				s := &primaryServer{address: address}
				sessions = append(sessions, s)
				return s, nil
			}
			var ranOn []string
			err := onPrimary(context.Background(), instances, dial, dialPrimary, connect, func(_ context.Context, conn Admin) error {
				s := conn.(*primaryServer)
				ranOn = append(ranOn, s.address)
				if primary := tc.primaryOf[s.address]; primary != "" {
					return &ReadOnlyError{Address: s.address, Reason: "it is a SECONDARY of its replication group", Primary: primary}
				}
				return nil
			})
			if !slices.Equal(dials, tc.wantDials) {
				t.Errorf("dialed %q, want %q", dials, tc.wantDials)
			}
			if got := fmt.Sprint(err); tc.wantErr == "" && err != nil || tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			for _, s := range sessions {
				if !s.closed {
					t.Errorf("the session to %s was left open", s.address)
				}
			}
			if len(ranOn) != len(sessions) {
				t.Errorf("ran on %d servers of %d connected", len(ranOn), len(sessions))
			}
		})
	}
}
