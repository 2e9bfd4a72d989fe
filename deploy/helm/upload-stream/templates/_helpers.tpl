{{- define "upload-stream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "upload-stream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "upload-stream.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "upload-stream.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "upload-stream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "upload-stream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "upload-stream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "upload-stream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "upload-stream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "upload-stream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* KEDA's maximum: partitions unless set lower; more would only add idle consumers. */}}
{{- define "upload-stream.maxReplicas" -}}
{{- $partitions := int .Values.partitions -}}
{{- $max := int .Values.keda.maxReplicaCount | default $partitions -}}
{{- if gt $max $partitions -}}
{{- fail (printf "keda.maxReplicaCount (%d) is above partitions (%d): the extra replicas would sit idle" $max $partitions) -}}
{{- end -}}
{{- $max -}}
{{- end -}}

{{/* Plain variables: typed values first, then `env` over them. */}}
{{- define "upload-stream.plainEnv" -}}
{{- $v := .Values -}}
{{- $e := dict -}}
{{- $_ := set $e "KAFKA_BOOTSTRAP_SERVERS" $v.kafka.bootstrapServers -}}
{{- with $v.kafka.securityProtocol }}{{ $_ := set $e "KAFKA_SECURITY_PROTOCOL" . }}{{ end -}}
{{- with $v.kafka.sasl.mechanism }}{{ $_ := set $e "KAFKA_SASL_MECHANISM" . }}{{ end -}}
{{- with $v.kafka.sasl.username }}{{ $_ := set $e "KAFKA_SASL_USERNAME" . }}{{ end -}}
{{- if $v.kafka.caSecret.name }}{{ $_ := set $e "KAFKA_SSL_CA_LOCATION" (printf "/etc/upload-stream/kafka-ca/%s" $v.kafka.caSecret.key) }}{{ end -}}
{{- $_ := set $e "UPLOAD_STREAM_REQUESTS_TOPIC" $v.topics.requests -}}
{{- $_ := set $e "UPLOAD_STREAM_RESULTS_TOPIC" $v.topics.results -}}
{{- $_ := set $e "UPLOAD_STREAM_DLQ_TOPIC" $v.topics.dlq -}}
{{- with $v.topics.allowedReplyTopics }}{{ $_ := set $e "UPLOAD_STREAM_ALLOWED_REPLY_TOPICS" (join "," .) }}{{ end -}}
{{- $c := $v.consumer -}}
{{- $_ := set $e "UPLOAD_STREAM_GROUP_ID" $c.groupId -}}
{{- $_ := set $e "UPLOAD_STREAM_PROCESSING_GUARANTEE" $c.processingGuarantee -}}
{{- $_ := set $e "UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS" (toString $c.maxInFlightRequests) -}}
{{- $_ := set $e "UPLOAD_STREAM_DRAIN_TIMEOUT_S" (toString $c.drainTimeoutSeconds) -}}
{{- $_ := set $e "UPLOAD_STREAM_REVOKE_TIMEOUT_S" (toString $c.revokeTimeoutSeconds) -}}
{{- $_ := set $e "UPLOAD_STREAM_TRANSACTION_TIMEOUT_MS" (toString $c.transactionTimeoutMs) -}}
{{- $_ := set $e "UPLOAD_STREAM_TXN_CALL_TIMEOUT_S" (toString $c.txnCallTimeoutSeconds) -}}
{{- $_ := set $e "UPLOAD_STREAM_AUTO_OFFSET_RESET" $c.autoOffsetReset -}}
{{- $_ := set $e "UPLOAD_STREAM_LOG_FORMAT" $c.logFormat -}}
{{- $_ := set $e "UPLOAD_STREAM_LOG_LEVEL" $c.logLevel -}}
{{- $s := $v.s3 -}}
{{- with $s.region }}{{ $_ := set $e "AWS_REGION" . }}{{ end -}}
{{- with $s.endpointUrl }}{{ $_ := set $e "AWS_ENDPOINT_URL" . }}{{ end -}}
{{- with $s.defaultBucket }}{{ $_ := set $e "UPLOAD_STREAM_DEFAULT_BUCKET" . }}{{ end -}}
{{- with $s.allowedBuckets }}{{ $_ := set $e "UPLOAD_STREAM_ALLOWED_BUCKETS" (join "," .) }}{{ end -}}
{{- with $s.stagingAllowlist }}{{ $_ := set $e "UPLOAD_STREAM_STAGING_ALLOWLIST" (join "," .) }}{{ end -}}
{{- $_ := set $e "UPLOAD_STREAM_SSE" $s.sse -}}
{{- with $s.sseKmsKeyId }}{{ $_ := set $e "UPLOAD_STREAM_SSE_KMS_KEY_ID" . }}{{ end -}}
{{- $_ := set $e "UPLOAD_STREAM_MAX_CONCURRENCY" (toString $s.maxConcurrency) -}}
{{- $_ := set $e "UPLOAD_STREAM_S3_ADDRESSING_STYLE" $s.addressingStyle -}}
{{- if $v.scanning.enabled -}}
{{- $default := ternary "tcp://127.0.0.1:3310" "" $v.scanning.sidecar.enabled -}}
{{- $address := $v.scanning.clamdAddress | default $default | required "scanning.enabled needs scanning.clamdAddress or scanning.sidecar.enabled" -}}
{{- $_ := set $e "UPLOAD_STREAM_CLAMD_ADDRESS" $address -}}
{{- end -}}
{{- $_ := set $e "UPLOAD_STREAM_METRICS_PORT" (toString $v.metrics.port) -}}
{{- if or (hasKey $v.env "UPLOAD_STREAM_TRANSACTIONAL_ID") (hasKey $v.secretEnv "UPLOAD_STREAM_TRANSACTIONAL_ID") -}}
{{- fail "UPLOAD_STREAM_TRANSACTIONAL_ID is each pod's name; it cannot be set" -}}
{{- end -}}
{{- range $name, $value := $v.env -}}
{{- if regexMatch "PASSWORD|SECRET|TOKEN|PRIVATE|KEY_PEM" $name -}}
{{- fail (printf "env.%s looks like a secret: give it through secretEnv (a Secret reference), never as a value" $name) -}}
{{- end -}}
{{- $_ := set $e $name (toString $value) -}}
{{- end -}}
{{- toYaml $e -}}
{{- end -}}

{{/* Variables from Secrets: {NAME: {name, key}}. */}}
{{- define "upload-stream.secretEnv" -}}
{{- $v := .Values -}}
{{- $e := dict -}}
{{- if $v.kafka.sasl.mechanism -}}
{{- $name := $v.kafka.sasl.passwordSecret.name | required "kafka.sasl.mechanism is set: name the Secret holding the password in kafka.sasl.passwordSecret.name" -}}
{{- $_ := set $e "KAFKA_SASL_PASSWORD" (dict "name" $name "key" $v.kafka.sasl.passwordSecret.key) -}}
{{- end -}}
{{- with $v.s3.credentialsSecret.name -}}
{{- $_ := set $e "AWS_ACCESS_KEY_ID" (dict "name" . "key" $v.s3.credentialsSecret.accessKeyIdKey) -}}
{{- $_ := set $e "AWS_SECRET_ACCESS_KEY" (dict "name" . "key" $v.s3.credentialsSecret.secretAccessKeyKey) -}}
{{- end -}}
{{- range $name, $ref := $v.secretEnv -}}
{{- if hasKey $v.env $name -}}
{{- fail (printf "%s is in both env and secretEnv" $name) -}}
{{- end -}}
{{- $_ := set $e $name $ref -}}
{{- end -}}
{{- toYaml $e -}}
{{- end -}}
