{{/* The release's full name, at most 63 characters. */}}
{{- define "innokeda.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
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

{{/* The webhook service and the Secret of its serving certificate. */}}
{{- define "innokeda.webhookService" -}}{{ include "innokeda.fullname" . }}-webhook{{- end -}}
{{- define "innokeda.tlsSecret" -}}{{ include "innokeda.fullname" . }}-webhook-tls{{- end -}}
