"""End to end on a real Prefect server: ``assay serve`` deployments with their schedule and
upload trigger, HTTP uploads through to published versions, exactly once.

One ``assay serve`` process serves every pipeline of the module (starting it is the slow
part); each test uses its own pipeline, so each has its own dataset and ledger rows.
"""

from __future__ import annotations

import contextvars
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from prefect.settings import PREFECT_API_URL, temporary_settings

from assay.pipelines import compose
from assay.pipelines.ledger import Ledger
from tests.orchestration.conftest import (
    ASSAY,
    AUTH,
    TINY_CSV,
    add_pipeline,
    client_for,
    serving,
    start_flow_run,
    wait_for,
)
from tests.published import commits, latest_version, manifest_of, rows_of

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"

pytestmark = pytest.mark.slow


@dataclass
class Served:
    pipelines: Path
    data_dir: Path
    names: dict[str, str]  # role in these tests -> pipeline name

    def sink(self, role: str) -> Path:
        return self.pipelines / self.names[role] / "out"

    def incoming(self, role: str) -> Path:
        return self.pipelines / self.names[role] / "incoming"

    def log(self) -> str:
        """What the ``assay serve`` process has printed so far."""
        return (self.pipelines.parent / "serve.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def served(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served") / "pipelines"
    names = {role: add_pipeline(folder)
             for role in ("upload", "burst", "adhoc", "pending", "confined", "params",
                          "retry", "watch")}
    # the events sample's source patterns: a sweep finds no .gz
    names["sweep"] = add_pipeline(folder, name=None)
    spec = folder / names["sweep"] / "pipeline.yaml"
    spec.write_text(spec.read_text().replace(
        "paths: [incoming/]", 'paths: ["incoming/*.csv", "incoming/*.csv.gz"]'))
    names |= {sample: _add_sample(folder, sample) for sample in ("events", "records")}
    with serving(folder, prefect_api) as data_dir:
        yield Served(folder, data_dir, names)


def _add_sample(folder: Path, sample: str) -> str:
    """A bundled sample served as a pipeline of its own: its spec and suites, writing to
    ``out/`` beside them, with nothing in its source folder (its uploads come by HTTP)."""
    home = folder / sample
    shutil.copytree(SAMPLES / sample / "suites", home / "suites")
    (home / "uploads").mkdir()
    spec = yaml.safe_load((SAMPLES / sample / "pipeline.yaml").read_text())
    spec["sink"]["path"] = "out"
    (home / "pipeline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))  # split order
    return sample


def _manifests(sink: Path) -> list[dict]:
    """The manifest of every version of the sink's table, oldest first."""
    if latest_version(sink) is None:
        return []
    return [manifest_of(sink, commit["version"]) for commit in commits(sink)]


def _settled(client, upload_id: str) -> dict | None:
    status = client.get(f"/v1/uploads/{upload_id}", headers=AUTH).json()
    return status if status["state"] in ("published", "rejected", "failed") else None


def _stuck(served: Served, name: str) -> str:
    """Why a pipeline's uploads have not settled: its unfinished ledger rows, its
    deployment's flow runs by state, and the end of the serve process's log."""
    rows = [f"  {u.id} {u.state} owner={u.owner} run={u.flow_run_id} at {u.updated_at}"
            for u in Ledger.in_data_dir(served.data_dir).history(name)
            if u.state not in ("published", "rejected")]
    states = [f"  {r['state_name']} {r['parameters'].get('upload_id')}"
              for r in _flow_runs(name, completed_only=False)]
    log = served.log().splitlines()
    return "\n".join(["unsettled uploads:", *rows, f"flow runs of ingest/{name}:", *states,
                      "serve.log (last 40 lines):", *log[-40:]])


def _all_settled(client, upload_ids: list[str]) -> list[dict] | None:
    statuses = [_settled(client, i) for i in upload_ids]
    return statuses if all(statuses) else None


def _flow_runs(deployment: str, completed_only: bool = True) -> list[dict]:
    """The deployment's completed flow runs (with ``completed_only=False``, all of them)."""
    query: dict = {"deployments": {"name": {"any_": [deployment]}}}
    if completed_only:
        query["flow_runs"] = {"state": {"type": {"any_": ["COMPLETED"]}}}
    return httpx.post(f"{PREFECT_API_URL.value()}/flow_runs/filter", json=query).json()


def _post(client, name: str, body: bytes, filename: str = "upload.csv"):
    return client.post(f"/v1/pipelines/{name}/uploads", params={"filename": filename},
                       content=body, headers=AUTH)


def test_schedule_publishes_the_source_files_once(prefect_api: str, tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"  # served on its own: its schedule ends with the test
    name = add_pipeline(folder, "schedule: {interval: 2, timezone: Europe/Oslo}\n")
    (folder / name / "incoming" / "data.csv").write_text(TINY_CSV)
    sink = folder / name / "out"
    with serving(folder, prefect_api) as data_dir:
        wait_for(lambda: _manifests(sink), 90, "the scheduled run's version")
        ledger = Ledger.in_data_dir(data_dir)
        wait_for(lambda: [u.state for u in ledger.history(name)] == ["published"], 30,
                 "the ledger to record the source file as published")
        runs = _flow_runs(name)
        # later runs of the 2-second schedule find nothing new: still one version
        # each is a fresh process; on a loaded 2-core machine two can take over 30 s
        wait_for(lambda: len(_flow_runs(name)) >= len(runs) + 2, 90, "two more scheduled runs")
    (manifest,) = _manifests(sink)
    assert manifest["accounting"]["rows_read"] == 5
    assert manifest["accounting"]["rows_quarantined"] == 1
    assert len(ledger.history(name)) == 1


def test_http_upload_is_published_once(served: Served) -> None:
    name = served.names["upload"]
    body = b"id,city\n41,Quito\n42,Accra\n"
    with client_for(served.pipelines, served.data_dir) as client:
        first = _post(client, name, body, "a.csv")
        assert first.status_code == 202, first.text
        accepted = first.json()
        assert accepted["state"] == "received" and accepted["event_id"]
        assert accepted["flow_run_id"], accepted  # the run its trigger started
        status = wait_for(lambda: _settled(client, accepted["upload_id"]), 90, "publishing",
                          explain=lambda: _stuck(served, name))
        assert status["state"] == "published", status
        assert status["version"] == "0"
        assert status["flow_run_id"] == accepted["flow_run_id"]
        again = _post(client, name, body, "b.csv")
        assert again.status_code == 200, again.text
        assert again.json()["duplicate"] and again.json()["upload_id"] == accepted["upload_id"]
        assert again.json()["state"] == "published"
    (manifest,) = _manifests(served.sink("upload"))
    assert [i["sha256"] for i in manifest["inputs"]] == [accepted["sha256"]]
    rows = rows_of(served.sink("upload")).to_pydict()
    assert sorted(zip(rows["id"], rows["city"], strict=True)) == [(41, "Quito"), (42, "Accra")]


@pytest.mark.parametrize("sample", ["events", "records"])
def test_a_samples_uploads_one_by_one_equal_its_ad_hoc_run(served: Served, sample: str,
                                                          tmp_path: Path) -> None:
    """The sample's uploads sent one by one through the intake API (each appends a version
    of the table, gates judging the dataset, dedup across uploads) publish exactly the rows
    of one ad-hoc run over all of them, and every reader reads the table. The biggest
    upload goes first: the records suite asks for 1,000 rows in the dataset, which the
    small upload alone (799 rows) rightly fails."""
    import polars as pl
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    import assay

    ad_hoc = assay.run(SAMPLES / sample / "pipeline.yaml", output=str(tmp_path / "ad-hoc"))
    with client_for(served.pipelines, served.data_dir) as client:
        for upload in sorted((Path(i["path"]) for i in ad_hoc.manifest["inputs"]),
                             key=lambda path: -path.stat().st_size):
            answer = _post(client, sample, upload.read_bytes(), upload.name)
            assert answer.status_code == 202, answer.text
            status = wait_for(lambda a=answer: _settled(client, a.json()["upload_id"]), 120,
                              f"{upload.name} to publish", explain=lambda: _stuck(served, sample))
            assert status["state"] == "published", status.get("reason")
    sink = served.sink(sample)
    manifest = manifest_of(sink)
    assert (manifest["version"], manifest["mode"]) == (1, "append")
    assert manifest["rows"] == ad_hoc.manifest["rows"]

    def ordered(table: object) -> pl.DataFrame:
        frame = pl.from_arrow(table)
        return frame.sort(frame.columns)

    assert ordered(rows_of(sink)).equals(ordered(rows_of(tmp_path / "ad-hoc")))
    table = DeltaTable(str(sink))
    assert table.to_pyarrow_dataset().count_rows() == manifest["rows"]
    assert ds.dataset(table.file_uris(), format="parquet").count_rows() == manifest["rows"]
    assert pl.scan_delta(str(sink)).select(pl.len()).collect().item() == manifest["rows"]


def test_concurrent_uploads_all_end_published_or_rejected(served: Served) -> None:
    name, published = served.names["burst"], 10  # three batches of --limit 4 flow runs
    bodies = [f"id,city\n{i},c{i}\n".encode() for i in range(published)]
    bodies += [b"id,town\n1,x\n", b"\x00\x01binary"]  # rejected: missing column, binary
    with client_for(served.pipelines, served.data_dir) as client, \
            ThreadPoolExecutor(max_workers=10) as pool:
        # each thread runs in a copy of this context: it holds the Prefect settings
        contexts = [contextvars.copy_context() for _ in bodies]
        answers = list(pool.map(lambda c, b: c.run(_post, client, name, b), contexts, bodies))
        assert [a.status_code for a in answers] == [202] * len(bodies), [a.text for a in answers]
        ids = [a.json()["upload_id"] for a in answers]
        final = wait_for(lambda: _all_settled(client, ids), 400, "every upload to settle",
                         explain=lambda: _stuck(served, name))
    assert [f["state"] for f in final] == ["published"] * published + ["rejected"] * 2, final
    assert all(f["reason"] for f in final[published:])
    manifests = _manifests(served.sink("burst"))
    # one appended version per published upload, numbered without gaps or repeats: none
    # lost, none twice; each version is the whole dataset so far
    assert [m["version"] for m in manifests] == list(range(published))
    assert sorted(int(f["version"]) for f in final[:published]) == list(range(published))
    by_version = {m["version"]: m for m in manifests}
    for status in final[:published]:
        manifest = by_version[int(status["version"])]
        assert [i["sha256"] for i in manifest["inputs"]] == [status["sha256"]]
        assert (manifest["mode"], manifest["rows_added"]) == ("append", 1)
        assert manifest["rows"] == manifest["version"] + 1
    assert sorted(rows_of(served.sink("burst")).column("id").to_pylist()) == list(range(published))
    # rejected uploads keep their files
    for status in final[published:]:
        upload = Ledger.in_data_dir(served.data_dir).get(status["upload_id"])
        assert upload is not None and Path(upload.uri).is_file()


def test_prefect_deployment_run_starts_an_ad_hoc_run(served: Served) -> None:
    name = served.names["adhoc"]
    (served.incoming("adhoc") / "batch.csv").write_text("id,city\n7,Lagos\n")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "prefect"), "deployment", "run", f"ingest/{name}",
         "--param", "sweep=true", "--watch", "--watch-timeout", "120"],
        env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    (manifest,) = _manifests(served.sink("adhoc"))
    assert manifest["rows"] == 1 and manifest["inputs"][0]["path"].endswith("batch.csv")


def test_pending_upload_is_sent_when_an_intake_starts_with_a_server(served: Served) -> None:
    name = served.names["pending"]
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), \
            client_for(served.pipelines, served.data_dir) as client:
        answer = _post(client, name, b"id,city\n5,Hue\n").json()
    assert answer["state"] == "pending" and "no Prefect server reachable" in answer["detail"]
    with client_for(served.pipelines, served.data_dir) as client:  # retries at start
        status = wait_for(lambda: _settled(client, answer["upload_id"]), 90, "publishing",
                          explain=lambda: _stuck(served, name))
    assert status["state"] == "published", status


def _land_pending(served: Served, name: str, body: bytes) -> str:
    """An upload landed while no Prefect server answered (so no run started); its id."""
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), \
            client_for(served.pipelines, served.data_dir) as client:
        return _post(client, name, body).json()["upload_id"]


def _die_holding(ledger: Ledger, upload_id: str) -> None:
    """The upload's claim now belongs to a process that has exited."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with ledger._transaction() as db:
        db.execute("UPDATE uploads SET owner = ? WHERE id = ?",
                   (f"{os.uname().nodename}:{dead.pid}", upload_id))


def _send_again(served: Served, name: str, body: bytes, upload_id: str) -> dict:
    """The same bytes sent again (a duplicate, which triggers a run): the upload's status
    once that run settled it."""
    with client_for(served.pipelines, served.data_dir) as client:
        again = _post(client, name, body)
        assert again.json()["duplicate"] and again.json()["event_id"], again.text
        return wait_for(lambda: _settled(client, upload_id), 90, "the retry",
                        explain=lambda: _stuck(served, name))


def test_crashed_run_is_retried_by_the_next_trigger(served: Served) -> None:
    name = served.names["pending"]
    body = b"id,city\n6,Ica\n"
    ledger = Ledger.in_data_dir(served.data_dir)
    upload_id = _land_pending(served, name, body)
    assert ledger.claim(upload_id) is not None  # a run claimed it and died without a word
    _die_holding(ledger, upload_id)
    status = _send_again(served, name, body, upload_id)
    assert status["state"] == "published", status


def test_an_upload_whose_trigger_was_lost_is_sent_again_and_published(served: Served
                                                                      ) -> None:
    """Prefect can drop an event (a message that fails its retries ends in its dead-letter
    queue): the serving process sends the trigger of an upload still ``received`` again
    (20 s after it was sent, here, its deployment idle), and the upload is published once."""
    name = served.names["pending"]
    ledger = Ledger.in_data_dir(served.data_dir)
    upload_id = _land_pending(served, name, b"id,city\n9,Kochi\n")
    ledger.mark(upload_id, "received")  # as if its event went out and was lost
    with client_for(served.pipelines, served.data_dir) as client:
        status = wait_for(lambda: _settled(client, upload_id), 150, "the trigger sent again",
                          explain=lambda: _stuck(served, name))
    assert status["state"] == "published", status
    assert rows_of(served.sink("pending")).column("id").to_pylist().count(9) == 1
    assert f"upload {upload_id} of pipeline {name}: no flow run took its trigger" in served.log()


def test_a_run_that_died_after_its_commit_is_not_appended_twice(served: Served) -> None:
    """The log is the truth: an upload whose commit landed while the ledger still says
    ``running`` (the run died between the two) is marked published with that version by the
    next trigger, and its rows are in the table once."""
    name = served.names["pending"]
    body = b"id,city\n8,Oslo\n"
    ledger = Ledger.in_data_dir(served.data_dir)
    upload_id = _land_pending(served, name, body)
    claimed = ledger.claim(upload_id)
    assert claimed is not None
    request = compose.load(served.pipelines / name / "pipeline.yaml", inputs=[claimed.uri],
                           data_dir=served.data_dir).for_uploads()
    committed = compose.run_all(request).version  # ... and the process died here
    _die_holding(ledger, upload_id)
    status = _send_again(served, name, body, upload_id)
    assert (status["state"], status["version"]) == ("published", str(committed))
    ids = rows_of(served.sink("pending")).column("id").to_pylist()
    assert ids.count(8) == 1 and latest_version(served.sink("pending")) == committed


def _final_state(flow_run_id: str) -> dict | None:
    run = httpx.get(f"{PREFECT_API_URL.value()}/flow_runs/{flow_run_id}").json()
    return run["state"] if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED") else None


def _start(name: str, parameters: dict) -> str:
    """Start a run of the pipeline's deployment with ``parameters`` (as ``prefect deployment
    run --param`` does); its id."""
    api = PREFECT_API_URL.value()
    deployment = httpx.get(f"{api}/deployments/name/ingest/{name}").json()["id"]
    return start_flow_run(api, deployment, parameters, f"a run of ingest/{name} to start")


def _run(name: str, parameters: dict) -> dict:
    """A run of the deployment with ``parameters``, to its final state."""
    run_id = _start(name, parameters)
    return {**wait_for(lambda: _final_state(run_id), 120, "the run to end"), "flow_run_id": run_id}


def _logs(flow_run_id: str) -> list[str]:
    """The run's log lines as the Prefect server keeps them, oldest first."""
    return [entry["message"] for entry in httpx.post(
        f"{PREFECT_API_URL.value()}/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "TIMESTAMP_ASC"},
    ).json()]


def test_a_sweep_logs_what_it_did_and_goes_on_after_a_rejected_upload(
        served: Served) -> None:
    """The run's log on the server says which patterns matched nothing, and what became of
    each upload: a rejected upload does not stop the ones after it, and the run ends
    failed, naming it."""
    name = served.names["sweep"]
    incoming = served.incoming("sweep")
    (incoming / "a.csv").write_text("id,city\n1,Oslo\n")
    (incoming / "b.csv").write_text("id,town\n2,Rome\n")  # rejected: no city column
    (incoming / "c.csv").write_text("id,city\n3,Kyiv\n")
    state = _run(name, {})
    assert state["type"] == "FAILED", state
    assert "b.csv" in state["message"] and "rejected" in state["message"], state["message"]
    assert sorted(rows_of(served.sink("sweep")).column("id").to_pylist()) == [1, 3]
    ledger = Ledger.in_data_dir(served.data_dir)
    assert sorted((u.name, u.state) for u in ledger.history(name)) == [
        ("a.csv", "published"), ("b.csv", "rejected"), ("c.csv", "published")]
    logs = wait_for(lambda: (lines := _logs(state["flow_run_id"])) and any(
        "not ingested" in line for line in lines) and lines, 30, "the run's logs")
    text = "\n".join(logs)
    assert "incoming/*.csv.gz: no such file, or nothing matches" in text, text
    assert "incoming/*.csv: 3 file(s), 3 new" in text, text
    assert "(b.csv) rejected" in text and text.count("published as version") == 2, text
    assert "2 published, 0 acknowledged (already done or running), 1 not ingested" in text

    again = _run(name, {})  # nothing new: said so, and nothing published
    assert again["type"] == "COMPLETED", again
    text = "\n".join(wait_for(lambda: _logs(again["flow_run_id"]), 30, "the second run's logs"))
    assert "nothing to ingest" in text or "0 new" in text, text
    assert len(_manifests(served.sink("sweep"))) == 2


def test_no_deployment_parameters_publish_a_file_twice(served: Served) -> None:
    """``inputs`` go through the ledger as uploads; ``upload_id`` ingests that upload alone,
    even though the deployment's default parameters ask for a sweep."""
    name = served.names["params"]
    incoming = served.incoming("params")
    (incoming / "a.csv").write_text("id,city\n1,Oslo\n")
    for parameters in ({"inputs": [str(incoming / "a.csv")], "sweep": False},
                       {"inputs": [str(incoming / "a.csv")]}, {"sweep": True}, {}):
        state = _run(name, parameters)
        assert state["type"] == "COMPLETED", (parameters, state)
    assert [m["version"] for m in _manifests(served.sink("params"))] == [0]
    ledger = Ledger.in_data_dir(served.data_dir)
    assert [(u.name, u.state) for u in ledger.history(name)] == [("a.csv", "published")]

    (incoming / "b.csv").write_text("id,city\n2,Lima\n")  # not to be swept by the next run
    upload_id = _land_pending(served, name, b"id,city\n3,Pune\n")
    state = _run(name, {"upload_id": upload_id})
    assert state["type"] == "COMPLETED", state
    assert [(u.name, u.state) for u in ledger.history(name)] == [
        ("a.csv", "published"), ("upload.csv", "published")]
    assert sorted(rows_of(served.sink("params")).column("id").to_pylist()) == [1, 3]


def _assay(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "ASSAY_DATA_DIR": str(served.data_dir)}
    return subprocess.run([ASSAY, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_an_upload_rejected_by_an_old_spec_is_retried_once_it_is_fixed(
        served: Served) -> None:
    name = served.names["retry"]
    with client_for(served.pipelines, served.data_dir) as client:
        upload_id = _post(client, name, b"id,town\n1,Oslo\n", "towns.csv").json()["upload_id"]
        status = wait_for(lambda: _settled(client, upload_id), 90, "the rejection",
                          explain=lambda: _stuck(served, name))
        assert status["state"] == "rejected" and "city" in status["reason"], status
        listed = _assay(served, "uploads", "list", "--pipeline", name, "--state", "rejected")
        assert listed.returncode == 0 and upload_id in listed.stdout, listed
        spec = served.pipelines / name / "pipeline.yaml"
        spec.write_text(spec.read_text().replace("name: city", "name: town"))
        retried = _assay(served, "uploads", "retry", upload_id)
        assert retried.returncode == 0, retried.stderr
        assert f"upload {upload_id} (towns.csv): received: ingestion triggered" in \
            retried.stdout, retried.stdout
        status = wait_for(lambda: _settled(client, upload_id), 90, "the retry",
                          explain=lambda: _stuck(served, name))
    assert (status["state"], status["version"], status["reason"]) == ("published", "0", None)
    assert rows_of(served.sink("retry")).to_pydict() == {"id": [1], "town": ["Oslo"]}
    shown = _assay(served, "uploads", "show", upload_id)
    assert "state:     published" in shown.stdout and "version:   0" in shown.stdout, shown
    again = _assay(served, "uploads", "retry", upload_id)  # published: never twice
    assert again.returncode == 2
    assert again.stderr.strip() == (f"error: upload {upload_id} is published as version 0: "
                                    "nothing to retry")


def test_watch_says_what_it_watches_and_each_uploads_final_state(served: Served,
                                                                 tmp_path: Path) -> None:
    name = served.names["watch"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "ASSAY_DATA_DIR": str(served.data_dir)}
    child = subprocess.Popen(
        [ASSAY, "watch", str(served.pipelines / name / "pipeline.yaml"), str(inbox),
         "--settle", "0.2", "--interval", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = threading.Timer(180, child.kill)  # a silent watcher must not hang the suite
    deadline.start()
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline()]
        (inbox / "good.csv").write_text("id,city\n1,Oslo\n")
        (inbox / "bad.csv").write_text("id,town\n2,Rome\n")
        while sum(" published as " in line or " rejected: " in line for line in lines) < 2 \
                and lines[-1]:
            lines.append(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        deadline.cancel()
    assert lines[0].startswith(f"watching {inbox} for uploads of pipeline {name} "), lines
    assert lines[0].endswith(f"; ingestion triggered at {PREFECT_API_URL.value()}\n")
    text = "".join(lines)
    assert "(good.csv): received" in text and "(bad.csv): received" in text, (text, err)
    assert "(good.csv): published as version 0" in text, (text, err)
    assert "(bad.csv): rejected: " in text and "missing columns ['city']" in text, text


def test_deployment_parameters_stay_inside_the_pipelines_roots(served: Served,
                                                                tmp_path: Path) -> None:
    """Whoever reaches the Prefect API can start a served run with any parameters: inputs
    outside the spec's source and landing zone, another sink or another spec are refused,
    and nothing is read into a version or written outside (each way out of the roots is
    tested in tests/pipelines/test_confine.py; here, that served runs are confined)."""
    name = served.names["confined"]
    secret = tmp_path / "secret.csv"
    secret.write_text("id,city\n666,Secret\n")
    incoming = served.incoming("confined")
    (incoming / "ok.csv").write_text("id,city\n1,Oslo\n")
    elsewhere = tmp_path / "elsewhere"
    other_spec = served.pipelines / served.names["upload"] / "pipeline.yaml"
    attempts = {
        "absolute": {"sweep": False, "inputs": [str(secret)]},
        "link": {"sweep": False, "inputs": [str(incoming / "link.csv")]},
        "sink": {"sweep": False, "inputs": [str(incoming / "ok.csv")],
                 "output": str(elsewhere)},
        "spec": {"sweep": True, "spec_path": str(other_spec)},
    }
    (incoming / "link.csv").symlink_to(secret)

    runs = {what: _start(name, parameters) for what, parameters in attempts.items()}
    for what, run_id in runs.items():
        state = wait_for(lambda run_id=run_id: _final_state(run_id), 120, f"the {what} run")
        assert state["type"] == "FAILED", (what, state)
        assert "refused" in state["message"], (what, state["message"])
    assert not elsewhere.exists()
    assert _manifests(served.sink("confined")) == []
    assert _manifests(served.sink("upload")) == [] or all(
        "secret" not in json.dumps(m) for m in _manifests(served.sink("upload")))
