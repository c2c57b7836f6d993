# Sourced on the GPU machine: the staged packages first, the copied repo importable as the
# one package `assay` (pyproject maps the top-level layer folders into it: a folder of links
# does the same without an install).
mkdir -p /tmp/pkg/assay && cp -r /tmp/repo/src/assay/. /tmp/pkg/assay/
for layer in flows pipelines transforms validation; do ln -sfn "/tmp/repo/$layer" "/tmp/pkg/assay/$layer"; done
export PYTHONPATH=/tmp/site:/tmp/pkg:/tmp/repo PYTHONUNBUFFERED=1 ASSAY_CLI=/tmp/bin/assay
export PATH=/tmp/bin:$PATH GX_ANALYTICS_ENABLED=false PREFECT_SERVER_ANALYTICS_ENABLED=false
