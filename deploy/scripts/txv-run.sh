#!/usr/bin/env bash
# Runs one txv CLI command (`txv apikey create ...`, `txv migrate`) in the cluster, as a one-off
# pod with the image of the running deployment and its database URL, and prints the command's
# standard output. The database is only reachable from inside the VPC, hence the pod.
#
# Usage: deploy/scripts/txv-run.sh apikey create --role validator --merchant m-42 --name shop-42
# Needs kubectl pointing at the cluster (aws eks update-kubeconfig --name txv-<env>).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 TXV-ARGS..." >&2; exit 2; }

namespace=${TXV_NAMESPACE:-txv}
pod="txv-run-$(date +%s)"
image=$(kubectl -n "$namespace" get deploy txv -o jsonpath='{.spec.template.spec.containers[0].image}')
args=$(printf '%s\n' /usr/local/bin/txv "$@" | jq -R . | jq -sc .)

kubectl -n "$namespace" apply -f - >/dev/null <<EOF_POD
apiVersion: v1
kind: Pod
metadata:
  name: $pod
  labels:
    app.kubernetes.io/component: admin-task
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: txv
      image: $image
      command: $args
      env:
        - name: TXV_DATABASE_URL
          valueFrom:
            secretKeyRef:
              name: txv
              key: database-url
        - name: TXV_LOG_LEVEL
          value: error
      resources:
        requests: {cpu: 100m, memory: 128Mi}
        limits: {cpu: 500m, memory: 256Mi}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: [ALL]
EOF_POD
trap 'kubectl -n "$namespace" delete pod "$pod" --wait=false >/dev/null 2>&1 || true' EXIT

phase=
for _ in $(seq 1 60); do
  phase=$(kubectl -n "$namespace" get pod "$pod" -o jsonpath='{.status.phase}')
  case "$phase" in Succeeded | Failed) break ;; esac
  sleep 2
done
kubectl -n "$namespace" logs "$pod" --container txv
[ "$phase" = Succeeded ] || { echo "txv $* ended $phase" >&2; exit 1; }
