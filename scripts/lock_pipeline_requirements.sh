#!/usr/bin/env bash
# Regenerate the pipeline's hash-locked requirements (requirements/pipeline-*.txt) from their
# inputs (requirements/pipeline-*.in) for the CodeBuild image's Python (3.12, x86_64 Linux),
# wheels only, every file's sha256. Needs uv (pip install uv) and the package index.
#   scripts/lock_pipeline_requirements.sh            # all three stages
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for stage in test package deploy; do
  uv pip compile --quiet --python-version 3.12 --python-platform x86_64-manylinux_2_28 \
    --only-binary :all: --generate-hashes \
    --custom-compile-command "scripts/lock_pipeline_requirements.sh" \
    "requirements/pipeline-$stage.in" -o "requirements/pipeline-$stage.txt"
done
