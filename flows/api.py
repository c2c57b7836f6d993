"""``assay api``: upload intake over HTTP (FastAPI, served by uvicorn).

``POST /v1/pipelines/{name}/uploads`` streams the request body into the landing zone (never
buffered whole), and answers with the upload's id, hash and state; the ingestion it
triggers runs in the pipeline's served deployment. ``GET /v1/uploads/{id}`` tells what
became of an upload (its reason names the file as the client did, never a path of the
server). Every call needs a bearer token valid for the pipeline: a missing
token is 401, a wrong one 403, an unknown pipeline 404, and nothing is written for any.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import yaml
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assay.flows.intake import Intake, IntakeRefused, Received, upload_suffix
from assay.pipelines.errors import SpecError
from assay.pipelines.ledger import Upload
from assay.pipelines.registry import Pipeline

TOKENS_ENV = "ASSAY_API_TOKENS"
ANY_PIPELINE = "*"
Tokens = dict[str, list[str]]


def load_tokens(path: Path | None = None) -> Tokens:
    """Tokens per pipeline (``*``: every pipeline) from a YAML/JSON file mapping pipeline
    names to lists of tokens, else from ``$ASSAY_API_TOKENS`` (``pipeline=token,...``)."""
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SpecError(f"{path}: cannot read tokens: {exc}") from None
        if not isinstance(data, dict) or not all(
                isinstance(v, list) and all(isinstance(t, str) and t for t in v)
                for v in data.values()):
            raise SpecError(f"{path}: expected a mapping of pipeline names to lists of tokens")
        return {str(k): list(v) for k, v in data.items()}
    tokens: Tokens = {}
    for item in filter(None, os.environ.get(TOKENS_ENV, "").split(",")):
        name, sep, token = item.strip().partition("=")
        if not sep or not token:
            raise SpecError(f"${TOKENS_ENV}: expected pipeline=token pairs, got {item!r}")
        tokens.setdefault(name, []).append(token)
    if not tokens:
        raise SpecError(f"no API tokens: pass --tokens FILE or set ${TOKENS_ENV}")
    return tokens


class UploadAccepted(BaseModel):
    upload_id: str
    pipeline: str
    sha256: str
    bytes: int
    state: str
    duplicate: bool
    event_id: str | None
    flow_run_id: str | None
    version: str | None
    detail: str | None
    status_url: str


class UploadStatus(BaseModel):
    upload_id: str
    pipeline: str
    sha256: str
    bytes: int
    name: str | None
    state: str
    version: str | None
    reason: str | None
    flow_run_id: str | None
    created_at: str
    updated_at: str


def _status(upload: Upload, private: dict[str, str]) -> UploadStatus:
    return UploadStatus(upload_id=upload.id, pipeline=upload.pipeline, sha256=upload.sha256,
                        bytes=upload.size, name=upload.name, state=upload.state,
                        version=upload.version, reason=public_reason(upload, private),
                        flow_run_id=upload.flow_run_id, created_at=upload.created_at,
                        updated_at=upload.updated_at)


def public_reason(upload: Upload, private: dict[str, str]) -> str | None:
    """The upload's reason as a client may read it: the server's paths are its own, so the
    landed file is named as the client named it, and each ``private`` folder (the data
    directory, the pipeline's) by its placeholder."""
    if upload.reason is None:
        return None
    reason = upload.reason.replace(upload.uri, upload.name or Path(upload.uri).name)
    for folder in sorted(private, key=len, reverse=True):  # the deepest folder first
        reason = reason.replace(folder, private[folder])
    return reason


def private_folders(data_dir: Path, pipeline: Pipeline) -> dict[str, str]:
    """The server's folders an answer about the pipeline's uploads must not show."""
    folders = {"<data-dir>": data_dir, "<pipeline>": pipeline.spec_path.parent}
    return {str(path): name for name, path in folders.items()} | {
        str(path.resolve()): name for name, path in folders.items()}


_BINARY_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
_bearer = HTTPBearer(auto_error=False, description="A token valid for the pipeline.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


FLOW_RUN_WAIT = 10.0  # seconds a POST looks for the flow run its trigger started


def create_app(pipelines: dict[str, Pipeline], data_dir: Path, tokens: Tokens,
               flow_run_wait: float = FLOW_RUN_WAIT) -> FastAPI:
    """The intake app for ``pipelines``, landing uploads under ``data_dir``."""
    intake = Intake(data_dir, flow_run_wait=flow_run_wait)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await intake.retry_pending()
        yield

    app = FastAPI(title="assay upload intake", version="1", lifespan=lifespan,
                  description=__doc__)

    def authorize(credentials: HTTPAuthorizationCredentials | None, name: str) -> Pipeline:
        if credentials is None:
            raise HTTPException(401, "missing bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        pipeline = pipelines.get(name)
        if pipeline is None:
            raise HTTPException(404, f"no pipeline named {name!r}")
        valid = [*tokens.get(name, []), *tokens.get(ANY_PIPELINE, [])]
        given = credentials.credentials.encode()
        if not any(hmac.compare_digest(given, token.encode()) for token in valid):
            raise HTTPException(403, f"token not valid for pipeline {name!r}")
        return pipeline

    @app.post("/v1/pipelines/{name}/uploads", status_code=202, response_model=UploadAccepted,
              openapi_extra=_BINARY_BODY,
              responses={200: {"model": UploadAccepted, "description": "already received"},
                         401: {}, 403: {}, 404: {}, 411: {}, 413: {}, 415: {}})
    async def upload(
        name: str, request: Request, response: Response, credentials: Credentials,
        filename: Annotated[str | None, Query(
            max_length=255, description="The client's file name: lends the upload its "
            "extension (format, compression) and a display name; never used as a path.")] = None,
        format: Annotated[str | None, Query(
            pattern="^(csv|jsonl|parquet)$",
            description="The upload's format, when the file name does not tell it.")] = None,
    ) -> UploadAccepted:
        """Stream an upload into the landing zone and trigger its ingestion."""
        pipeline = authorize(credentials, name)
        try:
            suffix = upload_suffix(pipeline, filename, format)
            landed = await _receive(intake, pipeline, request, suffix, filename)
        except IntakeRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        if landed.duplicate:
            response.status_code = 200
        upload = landed.upload
        return UploadAccepted(
            upload_id=upload.id, pipeline=upload.pipeline, sha256=upload.sha256,
            bytes=upload.size, state=upload.state, duplicate=landed.duplicate,
            event_id=landed.event_id, flow_run_id=landed.flow_run_id or upload.flow_run_id,
            version=upload.version,
            detail=landed.notice, status_url=f"/v1/uploads/{upload.id}")

    @app.get("/v1/uploads/{upload_id}", response_model=UploadStatus,
             responses={401: {}, 403: {}, 404: {}})
    async def status(upload_id: str, credentials: Credentials) -> UploadStatus:
        """What became of an upload: received, pending, running, published (as version N),
        rejected or failed (with the reason)."""
        if credentials is None:
            raise HTTPException(401, "missing bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        upload = await run_in_threadpool(intake.ledger.get, upload_id)
        if upload is None:
            raise HTTPException(404, f"no upload {upload_id!r}")
        pipeline = authorize(credentials, upload.pipeline)
        return _status(upload, private_folders(data_dir, pipeline))

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        """Liveness (no authentication)."""
        return {"status": "ok"}

    return app


async def _receive(intake: Intake, pipeline: Pipeline, request: Request, suffix: str,
                   filename: str | None) -> Received:
    """Refuse an oversize body by its declared length before writing anything; otherwise
    stream it (its real length is checked too), keep it, trigger ingestion."""
    declared = request.headers.get("content-length")
    limit = pipeline.spec.intake.max_bytes
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IntakeRefused(f"upload of {int(declared):,} bytes is larger than the "
                            f"pipeline's limit of {limit:,} bytes", 413)
    landing = await run_in_threadpool(intake.open, pipeline)
    try:
        async for chunk in request.stream():
            landing.write(chunk)
    except BaseException:
        landing.discard()
        raise
    upload, new = await run_in_threadpool(intake.keep, pipeline, landing, suffix, filename)
    return await intake.trigger(upload, new)


def openapi_json(app: FastAPI) -> str:
    """The schema as committed in ``docs/openapi.json``."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"

