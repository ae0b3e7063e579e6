package innodbcluster

import (
	"reflect"
	"slices"
	"testing"

	"github.com/innokeda/innokeda/internal/annotations"
)

func TestScalerSettingsFromAnnotations(t *testing.T) {
	tests := []struct {
		name         string
		annotations  map[string]string
		want         ScalerSettings
		wantProblems []string
	}{
		{name: "none: root, as before", want: ScalerSettings{Account: ScalerAccountRoot}},
		{name: "root", annotations: map[string]string{annotations.ScalerAccount: "root"}, want: ScalerSettings{Account: ScalerAccountRoot}},
		{name: "managed", annotations: map[string]string{annotations.ScalerAccount: " managed "}, want: ScalerSettings{Account: ScalerAccountManaged}},
		{name: "managed with the allowed privileges, any case and spacing, once each",
			annotations: map[string]string{annotations.ScalerAccount: "managed", annotations.ScalerPrivileges: "replication   client, process,PROCESS"},
			want:        ScalerSettings{Account: ScalerAccountManaged, Privileges: []string{"PROCESS", "REPLICATION CLIENT"}}},
		{name: "an unknown account: a problem, no default",
			annotations:  map[string]string{annotations.ScalerAccount: "Managed!"},
			wantProblems: []string{`annotation innokeda.io/scaler-account="Managed!" is not "managed" or "root"`}},
		{name: "privileges outside the allowlist are refused, the others kept",
			annotations: map[string]string{annotations.ScalerAccount: "managed", annotations.ScalerPrivileges: "PROCESS, SUPER, FILE, ALL PRIVILEGES"},
			want:        ScalerSettings{Account: ScalerAccountManaged, Privileges: []string{"PROCESS"}},
			wantProblems: []string{
				`annotation innokeda.io/scaler-privileges names "SUPER", which innokeda does not grant: only PROCESS and REPLICATION CLIENT`,
				`annotation innokeda.io/scaler-privileges names "FILE", which innokeda does not grant: only PROCESS and REPLICATION CLIENT`,
				`annotation innokeda.io/scaler-privileges names "ALL PRIVILEGES", which innokeda does not grant: only PROCESS and REPLICATION CLIENT`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := ScalerSettingsFromAnnotations(tc.annotations)
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(problems, tc.wantProblems) {
				t.Errorf("got %+v %q\nwant %+v %q", got, problems, tc.want, tc.wantProblems)
			}
		})
	}
}

func TestAllowedTables(t *testing.T) {
	for _, tc := range []struct {
		value        string
		absent       bool
		wantSet      bool
		wantPatterns []TablePattern
		wantProblems int
	}{
		{absent: true},
		{value: "  ", wantSet: false},
		{value: "app.orders", wantSet: true, wantPatterns: []TablePattern{{"app", "orders"}}},
		{value: " app.orders , app.*,,Shop$1.Items_2 ", wantSet: true, wantPatterns: []TablePattern{{"app", "orders"}, {"app", "*"}, {"Shop$1", "Items_2"}}},
		{value: "app", wantSet: true, wantProblems: 1},
		{value: "app.orders.x, *.*, app.`t`, 123.t, app.o-rders, .t, app.", wantSet: true, wantProblems: 7},
		{value: "Information_Schema.processList, INFORMATION_SCHEMA.*", wantSet: true,
			wantPatterns: []TablePattern{{"information_schema", "PROCESSLIST"}, {"information_schema", "*"}}},
		{value: "app.*, app", wantSet: true, wantPatterns: []TablePattern{{"app", "*"}}, wantProblems: 1},
	} {
		given := map[string]string{}
		if !tc.absent {
			given[annotations.AllowedTables] = tc.value
		}
		patterns, set, problems := AllowedTables(given)
		if set != tc.wantSet || !slices.Equal(patterns, tc.wantPatterns) || len(problems) != tc.wantProblems {
			t.Errorf("%q: %v, %v, %q; want %v, %v, %d problem(s)", tc.value, patterns, set, problems, tc.wantPatterns, tc.wantSet, tc.wantProblems)
		}
	}
}
