{{/* Names, labels and the values every template shares. */}}

{{- define "roster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "roster.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "roster.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "roster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "roster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Not app.kubernetes.io/managed-by=roster: that label marks what the operator itself manages. */}}
{{- define "roster.labels" -}}
helm.sh/chart: {{ include "roster.chart" . }}
{{ include "roster.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: roster
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "roster.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "roster.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "roster.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The name of the ValidatingWebhookConfiguration and MutatingWebhookConfiguration. */}}
{{- define "roster.webhookConfigurationName" -}}
{{- include "roster.fullname" . -}}
{{- end -}}

{{- define "roster.webhookServiceName" -}}
{{- include "roster.fullname" . -}}
{{- end -}}

{{/* The Secret holding the webhook's serving certificate (operator-made or cert-manager's). */}}
{{- define "roster.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "roster.fullname" .) -}}
{{- end -}}

{{- define "roster.webhookCertificateName" -}}
{{- printf "%s-webhook" (include "roster.fullname" .) -}}
{{- end -}}

{{- define "roster.publicUrl" -}}
{{- if .Values.operator.publicUrl -}}
{{- .Values.operator.publicUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "https://%s" .Values.ingress.host -}}
{{- else -}}
{{- printf "http://localhost:%v" .Values.ports.accept -}}
{{- end -}}
{{- end -}}

{{/* Where the pod mounts things; the config points at the same paths. */}}
{{- define "roster.paths.config" -}}/etc/roster{{- end -}}
{{- define "roster.paths.templates" -}}/etc/roster/templates{{- end -}}
{{- define "roster.paths.smtpPassword" -}}/etc/roster/mail/password{{- end -}}
{{- define "roster.paths.smtpCa" -}}/etc/roster/mail-ca/ca.crt{{- end -}}
{{- define "roster.paths.webhookCerts" -}}/etc/roster/webhook-certs{{- end -}}
{{- define "roster.paths.secrets" -}}/etc/roster/secrets{{- end -}}
{{- define "roster.paths.metricsCerts" -}}/etc/roster/metrics-certs{{- end -}}

{{/*
server.metrics of the operator's config: HTTPS with TokenReview + SubjectAccessReview when
metrics.secure (the certificate from metrics.certSecret, else self-signed in memory).
*/}}
{{- define "roster.metricsServer" -}}
secure: {{ .Values.metrics.secure }}
port: {{ .Values.ports.metrics }}
{{- if and .Values.metrics.secure .Values.metrics.certSecret }}
certDir: {{ include "roster.paths.metricsCerts" . }}
{{- end }}
{{- end -}}

{{/*
The operator's configuration (src/config.ts configSchema), rendered from the values.
*/}}
{{- define "roster.config" -}}
{{- $fullname := include "roster.fullname" . -}}
{{- $service := include "roster.webhookServiceName" . -}}
{{- $ns := .Release.Namespace -}}
{{- $smtp := .Values.mail.smtp -}}
{{- $config := dict
  "namespace" $ns
  "publicUrl" (include "roster.publicUrl" .)
  "leaderElection" .Values.operator.leaderElection
  "server" (dict "host" "0.0.0.0" "probesPort" .Values.ports.probes "acceptPort" .Values.ports.accept "webhookPort" .Values.ports.webhook "trustedProxies" .Values.server.trustedProxies "acceptRateLimit" .Values.server.acceptRateLimit "metrics" (include "roster.metricsServer" . | fromYaml))
  "workers" .Values.operator.workers
  "resyncMinutes" .Values.operator.resyncMinutes
  "kubeClient" .Values.operator.kubeClient
  "log" (dict "level" .Values.operator.logLevel)
  "identityBackends" .Values.operator.identityBackends
  "roleBindings" .Values.operator.roleBindings
  "tenancy" (dict "namespaceLabel" .Values.tenancy.namespaceLabel)
  "removalBrake" .Values.removalBrake
-}}
{{- $mail := dict
  "backend" .Values.mail.backend
  "from" .Values.mail.from
  "log" .Values.mail.log
  "allowedSenderDomains" .Values.mail.allowedSenderDomains
  "resendCooldownSeconds" .Values.mail.resendCooldownSeconds
  "dailyQuotaPerTeam" .Values.mail.dailyQuotaPerTeam
-}}
{{- if eq .Values.mail.backend "smtp" -}}
{{- $smtpConfig := dict
  "host" (required "mail.smtp.host is required when mail.backend is smtp" $smtp.host)
  "port" $smtp.port
  "secure" $smtp.secure
  "requireTLS" $smtp.requireTLS
  "rejectUnauthorized" $smtp.rejectUnauthorized
  "pool" $smtp.pool
  "maxConnections" $smtp.maxConnections
  "allowInsecure" $smtp.allowInsecure
-}}
{{- if $smtp.user -}}{{- $_ := set $smtpConfig "user" $smtp.user -}}{{- end -}}
{{- if $smtp.passwordSecret.name -}}{{- $_ := set $smtpConfig "passwordFile" (include "roster.paths.smtpPassword" .) -}}{{- end -}}
{{- if $smtp.caSecret.name -}}{{- $_ := set $smtpConfig "caFile" (include "roster.paths.smtpCa" .) -}}{{- end -}}
{{- $_ := set $mail "smtp" $smtpConfig -}}
{{- end -}}
{{- $templates := dict -}}
{{- with .Values.mail.templates -}}
{{- if .subject -}}{{- $_ := set $templates "subjectFile" (printf "%s/subject.txt" (include "roster.paths.templates" $)) -}}{{- end -}}
{{- if .text -}}{{- $_ := set $templates "textFile" (printf "%s/text.txt" (include "roster.paths.templates" $)) -}}{{- end -}}
{{- if .html -}}{{- $_ := set $templates "htmlFile" (printf "%s/html.html" (include "roster.paths.templates" $)) -}}{{- end -}}
{{- end -}}
{{- $_ := set $mail "templates" $templates -}}
{{- $_ := set $config "mail" $mail -}}
{{- $webhook := dict "enabled" .Values.webhook.enabled -}}
{{- if .Values.webhook.enabled -}}
{{- $webhook = dict
  "enabled" true
  "certificates" .Values.webhook.certificates
  "certDir" (include "roster.paths.webhookCerts" .)
  "tls" (dict
    "secretName" (include "roster.webhookSecretName" .)
    "caValidity" .Values.webhook.caValidity
    "servingValidity" .Values.webhook.servingValidity
    "checkInterval" .Values.webhook.checkInterval
    "dnsNames" (list $service (printf "%s.%s" $service $ns) (printf "%s.%s.svc" $service $ns) (printf "%s.%s.svc.cluster.local" $service $ns)))
  "register" (dict "enabled" false)
  "configurationName" (include "roster.webhookConfigurationName" .)
  "failurePolicy" .Values.webhook.failurePolicy
  "timeoutSeconds" .Values.webhook.timeoutSeconds
  "seatReservationSeconds" .Values.webhook.seatReservationSeconds
  "seatBlockSize" .Values.webhook.seatBlockSize
  "operatorUsername" (printf "system:serviceaccount:%s:%s" $ns (include "roster.serviceAccountName" .))
-}}
{{- end -}}
{{- $_ := set $config "webhook" $webhook -}}
{{- mustMergeOverwrite (deepCopy $config) (deepCopy .Values.operator.extraConfig) | toYaml -}}
{{- end -}}
