{{/* Chart name, truncated to the 63 characters Kubernetes allows in a label. */}}
{{- define "txv.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name when it already contains the chart name. */}}
{{- define "txv.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "txv.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "txv.selectorLabels" -}}
app.kubernetes.io/name: {{ include "txv.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "txv.labels" -}}
helm.sh/chart: {{ include "txv.chart" . }}
{{ include "txv.selectorLabels" . }}
app.kubernetes.io/version: {{ include "txv.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: txv
{{- with .Values.environment }}
txv.example.com/environment: {{ . }}
{{- end }}
{{- end }}

{{- define "txv.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "txv.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "txv.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* repository@digest when a digest is given (what CI deploys), else repository:tag. */}}
{{- define "txv.image" -}}
{{- $repo := required "image.repository is required (the ECR repository URL, a Terraform output)" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (include "txv.imageTag" .) }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding database-url, database-read-url, redis-url and pan-key. */}}
{{- define "txv.secretName" -}}
{{- if eq .Values.secrets.provider "existingSecret" }}
{{- required "secrets.existingSecret is required when secrets.provider is existingSecret" .Values.secrets.existingSecret }}
{{- else }}
{{- include "txv.fullname" . }}
{{- end }}
{{- end }}

{{/*
Shutdown timing, one place for all of it (api-v1.md section 8):
  preStop sleep  -> SIGTERM -> /readyz 503, listener open for TXV_DRAIN_DELAY -> in-flight requests
  finish -> exit 0 within TXV_GRACE_PERIOD of the SIGTERM.
Kubernetes counts terminationGracePeriodSeconds from the start of preStop, so it must cover
preStop + grace period, plus a margin before SIGKILL.
*/}}
{{- define "txv.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- $c := .Values.config }}
{{- if ge (int $c.drainDelaySeconds) (int $c.gracePeriodSeconds) }}
{{- fail (printf "config.drainDelaySeconds (%v) must be shorter than config.gracePeriodSeconds (%v)" $c.drainDelaySeconds $c.gracePeriodSeconds) }}
{{- end }}
{{- add (int $s.preStopSleepSeconds) (int $c.gracePeriodSeconds) (int $s.terminationMarginSeconds) }}
{{- end }}
