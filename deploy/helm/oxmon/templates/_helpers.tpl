{{/*
Names, labels and the values derived from several settings. Every object of the
chart carries the app.kubernetes.io/* labels from "oxmon.labels".
*/}}

{{- define "oxmon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name; names of objects are "<fullname>-<component>". */}}
{{- define "oxmon.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "oxmon.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "oxmon.labels" -}}
helm.sh/chart: {{ include "oxmon.chart" . }}
app.kubernetes.io/name: {{ include "oxmon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: oxmon
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of a component's objects: include with (dict "ctx" $ "component" "server"). */}}
{{- define "oxmon.componentLabels" -}}
{{ include "oxmon.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels (immutable in StatefulSets, DaemonSets and Deployments). */}}
{{- define "oxmon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oxmon.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "oxmon.serverName" -}}{{ include "oxmon.fullname" . }}-server{{- end }}
{{- define "oxmon.serverGrpcName" -}}{{ include "oxmon.fullname" . }}-server-grpc{{- end }}
{{- define "oxmon.serverHeadlessName" -}}{{ include "oxmon.fullname" . }}-server-headless{{- end }}
{{- define "oxmon.agentName" -}}{{ include "oxmon.fullname" . }}-agent{{- end }}
{{- define "oxmon.operatorName" -}}{{ include "oxmon.fullname" . }}-operator{{- end }}

{{/* The Secret with jwt-secret, admin-password, agent-token and operator-token. */}}
{{- define "oxmon.secretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "oxmon.fullname" .)) }}
{{- end }}

{{- define "oxmon.serviceAccountName" -}}
{{- $sa := .values.serviceAccount }}
{{- if $sa.create }}
{{- $sa.name | default (printf "%s-%s" (include "oxmon.fullname" .ctx) .component) }}
{{- else }}
{{- $sa.name | default "default" }}
{{- end }}
{{- end }}

{{/* image reference: include with (dict "image" .Values.server.image "ctx" $). */}}
{{- define "oxmon.image" -}}
{{- $tag := .image.tag | default .ctx.Chart.AppVersion }}
{{- if .image.digest }}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* The operator runs from the server image unless given its own repository. */}}
{{- define "oxmon.operatorImage" -}}
{{- $image := deepCopy .Values.operator.image }}
{{- if not $image.repository }}
{{- $_ := set $image "repository" .Values.server.image.repository }}
{{- if not $image.tag }}{{ $_ := set $image "tag" .Values.server.image.tag }}{{ end }}
{{- if not $image.digest }}{{ $_ := set $image "digest" .Values.server.image.digest }}{{ end }}
{{- end }}
{{- include "oxmon.image" (dict "image" $image "ctx" .) }}
{{- end }}

{{/* host:port the agents report to: the gRPC Service of this release unless set. */}}
{{- define "oxmon.agentEndpoint" -}}
{{- if .Values.agent.serverEndpoint }}
{{- .Values.agent.serverEndpoint }}
{{- else if .Values.server.enabled }}
{{- printf "%s.%s.svc:%d" (include "oxmon.serverGrpcName" .) .Release.Namespace (int .Values.server.grpcService.port) }}
{{- else }}
{{- fail "agent.serverEndpoint is required when server.enabled is false (host:port of the server's gRPC listener)" }}
{{- end }}
{{- end }}

{{/* Base URL of the server's HTTP API, for the operator. */}}
{{- define "oxmon.operatorServerUrl" -}}
{{- if .Values.operator.serverUrl }}
{{- .Values.operator.serverUrl }}
{{- else if .Values.server.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "oxmon.serverName" .) .Release.Namespace (int .Values.server.service.port) }}
{{- else }}
{{- fail "operator.serverUrl is required when server.enabled is false (e.g. http://oxmon.example:8080)" }}
{{- end }}
{{- end }}

{{/* Name the agents check in the server's gRPC certificate. */}}
{{- define "oxmon.tlsServerName" -}}
{{- .Values.tls.serverName | default (include "oxmon.agentEndpoint" . | splitList ":" | first) }}
{{- end }}

{{/*
The server reads every OXMON_SERVER_* value as TOML first (so "true" is a
boolean, "123" an integer, "2024-01-01" a date) and only else as a string: a
password or token must not look like a TOML value. Requiring a leading letter
(and not true/false/inf/nan) rules all of those out. Fail at render time rather
than leave the server crash-looping on its config.
*/}}
{{- define "oxmon.checkSecretValue" -}}
{{- if and .value (or (not (regexMatch "^[A-Za-z]" .value)) (has .value (list "true" "false" "inf" "nan"))) }}
{{- fail (printf "auth.%s must start with a letter (and not be true, false, inf or nan): the server reads it as a TOML value first" .key) }}
{{- end }}
{{- end }}

{{/* A generated secret: letters and digits, starting with a letter (see above). */}}
{{- define "oxmon.randomSecret" -}}
{{- printf "%s%s" (randAlpha 1) (randAlphaNum (int (sub . 1))) }}
{{- end }}

{{/* Pod-level settings shared by the components: include with (dict "values" .Values.server "ctx" $). */}}
{{- define "oxmon.podScheduling" -}}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
