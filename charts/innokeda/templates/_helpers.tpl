{{/* The release's full name, short enough that "<fullname>-webhook" is a valid Service name. */}}
{{- define "innokeda.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 55 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 55 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "innokeda.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "innokeda.labels" -}}
{{ include "innokeda.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "innokeda.serviceAccountName" -}}
{{- default (include "innokeda.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The names innokeda's args refer to: its Services, its Secret, its webhook configurations. */}}
{{- define "innokeda.webhookService" -}}{{ include "innokeda.fullname" . }}-webhook{{- end -}}
{{- define "innokeda.metricsService" -}}{{ include "innokeda.fullname" . }}-metrics{{- end -}}
{{- define "innokeda.tlsSecret" -}}{{ include "innokeda.fullname" . }}-webhook-tls{{- end -}}
{{- define "innokeda.mutatingWebhook" -}}{{ include "innokeda.fullname" . }}-mutating{{- end -}}
{{- define "innokeda.validatingWebhook" -}}{{ include "innokeda.fullname" . }}-validating{{- end -}}
{{- define "innokeda.certificate" -}}{{ include "innokeda.fullname" . }}-webhook{{- end -}}

{{/* innokeda issues and rotates its own certificate unless cert-manager does. */}}
{{- define "innokeda.rotation" -}}{{ if not .Values.certManager.enabled }}true{{ end }}{{- end -}}

{{- define "innokeda.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The port of /metrics: metrics.port, or 8443 when served over HTTPS and 8080 when not. */}}
{{- define "innokeda.metricsPort" -}}
{{- if .Values.metrics.port -}}
{{ .Values.metrics.port }}
{{- else if .Values.metrics.secure -}}
8443
{{- else -}}
8080
{{- end -}}
{{- end -}}
{{- define "innokeda.metricsPortName" -}}{{ if .Values.metrics.secure }}https{{ else }}http{{ end }}{{- end -}}

{{/*
A Go duration ("1h30m", "1500ms") in seconds, as a float. values.schema.json has already
checked the syntax.
*/}}
{{- define "innokeda.seconds" -}}
{{- $units := dict "ns" 1e-9 "us" 1e-6 "µs" 1e-6 "ms" 1e-3 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9.]+(ns|us|µs|ms|s|m|h)" . -1 -}}
{{- $unit := regexFind "(ns|us|µs|ms|s|m|h)$" . -}}
{{- $total = addf $total (mulf (float64 (trimSuffix $unit .)) (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/*
What the schema cannot check: how values relate to one another. Each failure says what to
change.
*/}}
{{- define "innokeda.validate" -}}
{{- $replicas := int .Values.replicaCount -}}
{{- $pdb := .Values.podDisruptionBudget -}}
{{- if and $pdb.enabled (gt $replicas 1) -}}
{{- $min := $pdb.minAvailable -}}
{{- if kindIs "string" $min -}}
{{- $percent := int (trimSuffix "%" $min) -}}
{{- /* minAvailable is ceil(percent * replicas / 100); all replicas when that exceeds replicas - 1. */ -}}
{{- if gt (mul $percent $replicas) (mul 100 (sub $replicas 1)) -}}
{{- fail (printf "podDisruptionBudget.minAvailable %s of replicaCount %d keeps every replica up, so no node could ever be drained: lower it, raise replicaCount, or set podDisruptionBudget.enabled=false" $min $replicas) -}}
{{- end -}}
{{- else if ge (int $min) $replicas -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be less than replicaCount (%d), or no node could ever be drained: lower it, raise replicaCount, or set podDisruptionBudget.enabled=false" (int $min) $replicas) -}}
{{- end -}}
{{- end -}}
{{- $validity := include "innokeda.seconds" .Values.certificate.validity | float64 -}}
{{- $renewBefore := include "innokeda.seconds" .Values.certificate.renewBefore | float64 -}}
{{- if ge $renewBefore $validity -}}
{{- fail (printf "certificate.renewBefore (%s) must be shorter than certificate.validity (%s), or every certificate would be renewed as soon as it is issued" .Values.certificate.renewBefore .Values.certificate.validity) -}}
{{- end -}}
{{- $auditSeconds := include "innokeda.seconds" (toString .Values.audit.interval) | float64 -}}
{{- if and (gt $auditSeconds 0.0) (lt (int .Values.dryRun.maxConcurrent) 2) -}}
{{- fail (printf "dryRun.maxConcurrent (%d) must be at least 2 while the audit runs: it takes at most half of the dry-run slots, so that admissions keep the rest; raise it, or set audit.interval=0" (int .Values.dryRun.maxConcurrent)) -}}
{{- end -}}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) -}}
{{- fail "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create=false" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.authorization (not .Values.metrics.secure) -}}
{{- fail "metrics.serviceMonitor.authorization needs metrics.secure=true: plain-HTTP metrics ask for no credentials" -}}
{{- end -}}
{{- end -}}

{{/*
The CRDs innokeda cannot start without, and where they come from. Checked only against a live
cluster (see crd-check.yaml).
*/}}
{{- define "innokeda.requiredCRDs" -}}
- name: scaledobjects.keda.sh
  api: keda.sh/v1alpha1/ScaledObject
  from: keda
- name: triggerauthentications.keda.sh
  api: keda.sh/v1alpha1/TriggerAuthentication
  from: keda
- name: clustertriggerauthentications.keda.sh
  api: keda.sh/v1alpha1/ClusterTriggerAuthentication
  from: keda
- name: innodbclusters.mysql.oracle.com
  api: mysql.oracle.com/v2/InnoDBCluster
  from: mysql-operator
{{- end -}}
