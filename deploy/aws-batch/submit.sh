#!/usr/bin/env bash
# Register the job definition once, then submit the weekly array job: 3 children,
# each with AWS_BATCH_JOB_ARRAY_INDEX 0..2 and the matching --shards 3 from the
# job definition. An EventBridge schedule can call the same submit-job weekly.
set -euo pipefail
queue=${1:?usage: submit.sh JOB_QUEUE}
cd "$(dirname "$0")"
aws batch register-job-definition --cli-input-json file://job-definition.json >/dev/null
aws batch submit-job \
  --job-name "compoundwatch-$(date -u +%G-W%V)" \
  --job-queue "$queue" \
  --job-definition compoundwatch-weekly \
  --array-properties size=3
