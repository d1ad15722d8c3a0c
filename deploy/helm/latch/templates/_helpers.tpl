{{- define "latch.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "latch.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "latch.labels" -}}
{{ include "latch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "latch.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The environment every latch container gets: settings and secret references. */}}
{{- define "latch.env" -}}
- name: LATCH_ISSUER
  value: {{ required "issuer is required" .Values.issuer | quote }}
- name: LATCH_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.latch.name }}
      key: {{ .Values.secrets.latch.key }}
- name: LATCH_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.database.name }}
      key: {{ .Values.secrets.database.key }}
- name: LATCH_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.redis.name }}
      key: {{ .Values.secrets.redis.key }}
{{- if .Values.secrets.smtp.name }}
- name: LATCH_SMTP_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.smtp.name }}
      key: {{ .Values.secrets.smtp.key }}
{{- end }}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Non-root, read-only, no privileges: the image is distroless and static. */}}
{{- define "latch.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "latch.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}
