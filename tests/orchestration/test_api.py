"""``assay api`` without a Prefect server: authentication, limits, hostile file names, the
committed OpenAPI schema; uploads are kept as pending (nothing to trigger)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prefect.settings import PREFECT_API_URL, temporary_settings

import assay.flows.intake as intake_module
from assay.flows.api import create_app, load_tokens, openapi_json
from assay.flows.intake import Intake
from assay.pipelines import compose
from assay.pipelines.errors import SpecError, UploadRejected
from assay.pipelines.ledger import Ledger
from assay.pipelines.owners import this_process
from assay.pipelines.registry import load_pipelines
from tests.orchestration.conftest import add_pipeline

ROOT = Path(__file__).resolve().parents[2]
BODY = b"id,city\n1,Oslo\n"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Path, dict[str, str]]]:
    """A client for two pipelines ``a`` and ``b``, each with its own token; no server."""
    folder = tmp_path / "pipelines"
    add_pipeline(folder, name="a")
    add_pipeline(folder, name="b", extra="")
    spec_b = folder / "b" / "pipeline.yaml"
    spec_b.write_text(spec_b.read_text().replace("intake: {max_bytes: 4096}",
                                                 "intake: {max_bytes: 4096, formats: [jsonl]}"))
    data_dir = tmp_path / "data"
    app = create_app(load_pipelines(folder), data_dir, {"a": ["ta"], "b": ["tb"]})
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), \
            TestClient(app) as client:
        yield client, data_dir, {"a": "Bearer ta", "b": "Bearer tb"}


def _landed(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "landing").rglob("*") if p.is_file())


def test_upload_is_landed_hashed_and_kept_pending_without_a_server(env) -> None:
    client, data_dir, tokens = env
    answer = client.post("/v1/pipelines/a/uploads?filename=x.csv", content=BODY,
                         headers={"Authorization": tokens["a"]})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["state"] == "pending" and "127.0.0.1:9" in body["detail"]
    assert body["sha256"] == hashlib.sha256(BODY).hexdigest() and body["bytes"] == len(BODY)
    (landed,) = _landed(data_dir)
    assert landed.read_bytes() == BODY and landed.name == f"{body['upload_id']}.csv"
    status = client.get(body["status_url"], headers={"Authorization": tokens["a"]}).json()
    assert status["state"] == "pending" and status["name"] == "x.csv"


@pytest.mark.parametrize(("pipeline", "auth", "code"), [
    ("a", None, 401),
    ("a", "Basic dXNlcjpwdw==", 401),
    ("a", "Bearer wrong", 403),
    ("a", "Bearer tb", 403),  # a token of another pipeline
    ("nope", "Bearer ta", 404),
])
def test_refusals_write_nothing(env, pipeline: str, auth: str | None, code: int) -> None:
    client, data_dir, _ = env
    headers = {"Authorization": auth} if auth else {}
    answer = client.post(f"/v1/pipelines/{pipeline}/uploads?filename=x.csv", content=BODY,
                         headers=headers)
    assert answer.status_code == code, answer.text
    assert _landed(data_dir) == []
    assert Ledger.in_data_dir(data_dir).history(pipeline) == []


def test_status_needs_a_token_of_the_uploads_pipeline(env) -> None:
    client, _, tokens = env
    upload_id = client.post("/v1/pipelines/a/uploads?filename=x.csv", content=BODY,
                            headers={"Authorization": tokens["a"]}).json()["upload_id"]
    url = f"/v1/uploads/{upload_id}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": tokens["b"]}).status_code == 403
    assert client.get("/v1/uploads/unknown", headers={"Authorization": tokens["a"]}
                      ).status_code == 404


def test_oversize_body_is_refused_with_413_and_leaves_no_file(env) -> None:
    client, data_dir, tokens = env
    big = b"id,city\n" + b"1,Oslo\n" * 1000  # over the 4 KiB limit
    declared = client.post("/v1/pipelines/a/uploads?filename=x.csv", content=big,
                           headers={"Authorization": tokens["a"]})
    assert declared.status_code == 413, declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: caught while streaming
        for _ in range(10):
            yield b"9,Lima\n" * 100

    streamed = client.post("/v1/pipelines/a/uploads?filename=x.csv", content=chunks(),
                           headers={"Authorization": tokens["a"]})
    assert streamed.status_code == 413, streamed.text
    assert _landed(data_dir) == []
    assert Ledger.in_data_dir(data_dir).history("a") == []


def test_an_upload_a_killed_intake_left_half_landed_is_removed(env) -> None:
    """A killed ``assay api`` or ``assay watch`` leaves its upload's temporary file; the
    next intake to land an upload of that pipeline removes it, and only it: a file a live
    process here is writing, a recent one of another host's, and one of a name without a
    process that changed within the last 12 hours all stay."""
    client, data_dir, tokens = env
    folder = data_dir / "landing" / "a"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = socket.gethostname()
    names = {"dead": f".incoming-{'1' * 32}-{dead}@{host}.part",
             "live": f".incoming-{'2' * 32}-{os.getpid()}@{host}.part",
             "elsewhere": f".incoming-{'3' * 32}-123@elsewhere.example.part",
             "unowned, recent": f".incoming-{'4' * 32}.part",
             "unowned, old": f".incoming-{'5' * 32}.part"}
    for name in names.values():
        (folder / name).write_bytes(b"id,city\n1,")
    day_ago = time.time() - 24 * 3600
    os.utime(folder / names["unowned, old"], (day_ago, day_ago))
    answer = client.post("/v1/pipelines/a/uploads?filename=x.csv", content=BODY,
                         headers={"Authorization": tokens["a"]})
    assert answer.status_code == 202, answer.text
    left = {name for name in names.values() if (folder / name).exists()}
    assert left == {names[k] for k in ("live", "elsewhere", "unowned, recent")}
    landed = [p for p in folder.iterdir() if not p.name.startswith(".incoming-")]
    assert [p.read_bytes() for p in landed] == [BODY]


def test_a_landing_names_its_process() -> None:
    landing = intake_module.Landing(Path(tempfile.mkdtemp()), 10)
    try:
        assert intake_module._owner_of(landing.temp.name) == this_process()
    finally:
        landing.discard()


@pytest.mark.parametrize("name", ["../../../etc/passwd.csv", "/tmp/evil.csv", "..\\..\\x.csv",
                                  "a/b/../c.csv", ".hidden.csv", "%2e%2e%2f%2e%2e%2fx.csv",
                                  "..%252f..%252fx.csv", "file:///tmp/evil.csv",
                                  "s3://bucket/evil.csv", "simplecache::/tmp/evil.csv",
                                  "x\x1b[2J\r.csv"])
def test_path_like_file_name_is_harmless(env, tmp_path: Path, name: str) -> None:
    client, data_dir, tokens = env
    answer = client.post("/v1/pipelines/a/uploads", params={"filename": name},
                         content=BODY + name.encode(), headers={"Authorization": tokens["a"]})
    assert answer.status_code == 202, answer.text
    (landed,) = _landed(data_dir)
    assert landed.parent == data_dir / "landing" / "a"
    assert landed.name == f"{answer.json()['upload_id']}.csv"
    assert not Path("/tmp/evil.csv").exists() or Path("/tmp/evil.csv").read_bytes() != BODY


@pytest.mark.parametrize("path", [
    "/v1/pipelines/..%2F..%2Fetc/uploads", "/v1/pipelines/%2e%2e/uploads",
    "/v1/pipelines/a%2F..%2Fb/uploads", "/v1/pipelines/..%5Ca/uploads",
])
def test_path_like_pipeline_name_is_not_found(env, path: str) -> None:
    client, data_dir, tokens = env
    answer = client.post(f"{path}?filename=x.csv", content=BODY,
                         headers={"Authorization": tokens["a"]})
    assert answer.status_code == 404, answer.text
    assert not (data_dir / "landing").exists() or _landed(data_dir) == []


@pytest.mark.parametrize("upload_id", ["..%2F..%2Fledger.sqlite3", "%2e%2e", "1%27%20OR%201=1"])
def test_path_like_upload_id_is_not_found(env, upload_id: str) -> None:
    client, _, tokens = env
    answer = client.get(f"/v1/uploads/{upload_id}", headers={"Authorization": tokens["a"]})
    assert answer.status_code == 404, answer.text


def test_format_refused_unless_the_pipeline_takes_it(env) -> None:
    client, data_dir, tokens = env
    auth = {"Authorization": tokens["b"]}
    assert client.post("/v1/pipelines/b/uploads?filename=x.csv", content=BODY,
                       headers=auth).status_code == 415
    assert client.post("/v1/pipelines/b/uploads?filename=noext", content=BODY,
                       headers=auth).status_code == 415
    ok = client.post("/v1/pipelines/b/uploads?filename=noext&format=jsonl",
                     content=b'{"id": 1}\n', headers=auth)
    assert ok.status_code == 202, ok.text
    assert [p.suffix for p in _landed(data_dir)] == [".jsonl"]


def test_same_bytes_twice_are_one_upload(env) -> None:
    client, data_dir, tokens = env
    auth = {"Authorization": tokens["a"]}
    first = client.post("/v1/pipelines/a/uploads?filename=x.csv.gz", content=BODY, headers=auth)
    second = client.post("/v1/pipelines/a/uploads?filename=y.csv.gz", content=BODY,
                         headers=auth)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["duplicate"] and second.json()["upload_id"] == first.json()["upload_id"]
    assert [p.name.split(".", 1)[1] for p in _landed(data_dir)] == ["csv.gz"]


def test_a_rejection_reason_names_the_file_as_the_client_did(env) -> None:
    """The reason a run recorded names the landed file by its server path; the answer
    names it as the client did, and shows no folder of the server."""
    client, data_dir, tokens = env
    auth = {"Authorization": tokens["a"]}
    answer = client.post("/v1/pipelines/a/uploads?filename=towns.csv",
                         content=b"id,town\n1,x\n", headers=auth).json()
    ledger = Ledger.in_data_dir(data_dir)
    upload = ledger.claim(answer["upload_id"])
    assert upload is not None
    request = compose.load(data_dir.parent / "pipelines" / "a" / "pipeline.yaml",
                           inputs=[upload.uri], data_dir=data_dir)
    with pytest.raises(UploadRejected) as rejected:  # what the served run meets
        compose.plan(request)
    assert upload.uri in str(rejected.value)
    ledger.finish(upload.id, "rejected", reason=str(rejected.value))
    status = client.get(answer["status_url"], headers=auth)
    assert status.json()["reason"] == "towns.csv: missing columns ['city'] (found ['id', 'town'])"
    ledger.finish(upload.id, "failed", reason=f"OSError: {data_dir}/locks/x.lock: busy; "
                  f"{data_dir.parent / 'pipelines' / 'a' / 'out'}: gone")
    status = client.get(answer["status_url"], headers=auth).json()
    assert status["reason"] == "OSError: <data-dir>/locks/x.lock: busy; <pipeline>/out: gone"
    assert str(data_dir.parent) not in status["reason"]


def test_committed_openapi_schema_is_the_served_one(env) -> None:
    client, _, _ = env
    served = client.get("/openapi.json").json()
    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert json.loads(committed) == served, "regenerate: assay api PIPELINES --openapi"
    assert openapi_json(client.app) == committed  # type: ignore[arg-type]


def test_tokens_from_file_or_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("a: [one, two]\n'*': [admin]\n")
    assert load_tokens(path) == {"a": ["one", "two"], "*": ["admin"]}
    monkeypatch.setenv("ASSAY_API_TOKENS", "a=one,*=admin")
    assert load_tokens() == {"a": ["one"], "*": ["admin"]}
    monkeypatch.setenv("ASSAY_API_TOKENS", "")
    with pytest.raises(SpecError, match="no API tokens"):
        load_tokens()


@pytest.mark.parametrize(("error", "pending"), [
    (PermissionError("Unable to authenticate to the event stream"), True),
    (httpx.ConnectError("All connection attempts failed"), True),
    (TypeError("Event() got an unexpected keyword argument"), False),
])
def test_only_an_unreachable_server_leaves_an_upload_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, pending: bool
) -> None:
    """A bug while triggering is an error of the API, not an upload left pending."""
    intake = Intake(tmp_path / "data")
    upload, new = intake.ledger.register("a", "0" * 64, 1, str(tmp_path / "x.csv"))

    async def emit(upload: object) -> str:
        raise error

    monkeypatch.setattr(intake_module, "emit_received", emit)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        if not pending:
            with pytest.raises(type(error)):
                asyncio.run(intake.trigger(upload, new))
            return
        received = asyncio.run(intake.trigger(upload, new))
    assert received.upload.state == "pending"
    assert f"({type(error).__name__}: {error})" in (received.notice or "")


def test_a_refused_events_handshake_is_a_permission_error(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """Prefect's events client refuses a bad token with a bare Exception."""

    class Healthy:
        async def __aenter__(self) -> Healthy:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def api_healthcheck(self) -> None:
            return None

    class Refusing(Healthy):
        def __init__(self, **kwargs: object) -> None:
            pass

        async def __aenter__(self) -> Healthy:
            raise Exception("Unable to authenticate to the event stream.")

    monkeypatch.setattr(intake_module, "get_client", Healthy)
    monkeypatch.setattr(intake_module, "PrefectEventsClient", Refusing)
    upload, _ = Ledger.in_data_dir(tmp_path).register("a", "1" * 64, 1, "x.csv")
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), \
            pytest.raises(PermissionError, match="authenticate") as caught:
        asyncio.run(intake_module.emit_received(upload))
    assert type(caught.value.__cause__) is Exception
