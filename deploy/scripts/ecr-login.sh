#!/usr/bin/env bash
# Logs docker in to the ECR registries of the given repository URLs
# (<account>.dkr.ecr.<region>.amazonaws.com/<name>), with the current AWS credentials.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 REPOSITORY_URL..." >&2; exit 2; }
for repository in "$@"; do
  registry=${repository%%/*}
  region=${registry#*.dkr.ecr.}
  region=${region%%.amazonaws.com*}
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
done
