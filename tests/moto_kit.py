"""moto's S3 on loopback for tests of object-store sinks and readers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

BUCKET = "lake"


@contextmanager
def moto_s3() -> Iterator[str]:
    """A moto S3 server with an empty ``lake`` bucket; yields its endpoint URL.

    It runs in its own process: delta-rs's file handler holds the GIL while it waits for a
    response, so a server thread in the test's process could never answer it (the run
    then hangs for delta-rs's 180 s retry timeout)."""
    import boto3
    from botocore.exceptions import EndpointConnectionError

    from assay.flows.server import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                s3.create_bucket(Bucket=BUCKET)
                break
            except EndpointConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)
