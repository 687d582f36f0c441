#!/usr/bin/env bash
# Deploys txv to one environment: `helm upgrade --install --atomic` with values-<env>.yaml and
# Terraform's values (SSM /txv/<env>/helm-values), the image pinned by digest; then `helm test`,
# and a rollback to the previous release if the smoke test fails.
# Needs AWS credentials of the environment's deploy role (CI: GitHub OIDC) and AWS_REGION.
#
# Usage: deploy/scripts/helm-deploy.sh dev|prod sha256:<digest>
set -euo pipefail

env=${1:-}
digest=${2:-}
case "$env" in dev | prod) ;; *) echo "usage: $0 dev|prod sha256:<digest>" >&2; exit 2 ;; esac
case "$digest" in sha256:*) ;; *) echo "image digest must be sha256:..., got '$digest'" >&2; exit 2 ;; esac
: "${AWS_REGION:?AWS_REGION must be set}"

deploy_dir=$(cd "$(dirname "$0")/.." && pwd)
release=txv
namespace=${TXV_NAMESPACE:-txv}
values=$(mktemp)
trap 'rm -f "$values"' EXIT

aws eks update-kubeconfig --name "txv-$env" --region "$AWS_REGION" >/dev/null
aws ssm get-parameter --name "/txv/$env/helm-values" --query Parameter.Value --output text >"$values"

previous=$(helm history "$release" --namespace "$namespace" --max 1 --output json 2>/dev/null | jq -r '.[0].revision // empty' || true)

# --atomic: a release that does not become ready within the timeout is rolled back by helm.
helm upgrade --install "$release" "$deploy_dir/helm/txv" \
  --namespace "$namespace" \
  --values "$deploy_dir/helm/txv/values-$env.yaml" \
  --values "$values" \
  --set-string image.digest="$digest" \
  --atomic --wait --timeout 10m --history-max 20

if ! helm test "$release" --namespace "$namespace" --logs --timeout 5m; then
  echo "helm test failed" >&2
  if [ -n "$previous" ]; then
    echo "rolling back to revision $previous" >&2
    helm rollback "$release" "$previous" --namespace "$namespace" --wait --timeout 10m
  fi
  exit 1
fi
echo "txv $digest is live in $env"
