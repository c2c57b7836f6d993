# Sourced on the GPU machine: the staged packages first, the copied repo importable.
export PYTHONPATH=/tmp/site:/tmp/repo PYTHONUNBUFFERED=1 ASSAY_CLI=/tmp/bin/assay
export PATH=/tmp/bin:$PATH GX_ANALYTICS_ENABLED=false PREFECT_SERVER_ANALYTICS_ENABLED=false
