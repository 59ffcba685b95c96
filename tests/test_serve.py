"""The HTTP server (bowclf/serve.py): a real ``bowclf serve`` process on a free loopback port,
called over HTTP — predictions equal to the library's, 4xx JSON errors, health under load,
graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import make_texts

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from click.testing import CliRunner  # noqa: E402

from bowclf import TextClassifier  # noqa: E402
from bowclf.cli import cli as cli_main  # noqa: E402
from bowclf.persist import load, save  # noqa: E402

MAX_BODY = 50_000
MAX_TEXTS = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``bowclf serve MODEL`` in a subprocess; ``url`` once /health answers."""

    def __init__(self, model_path: Path, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bowclf.cli", "serve", str(model_path),
             "--port", str(self.port), "--log-level", "warning", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode())
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self, signal_it: bool = True) -> tuple[int, str]:
        if signal_it and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err.decode(errors="replace")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    texts, y = make_texts(300, seed=0)
    model = TextClassifier(dim=8, epochs=4, buckets=5000, random_state=0).fit(texts, y)
    path = tmp_path_factory.mktemp("serve") / "m.bowclf"
    save(model, path)
    return path


@pytest.fixture(scope="module")
def model(model_path):
    return load(model_path)


@pytest.fixture(scope="module")
def server(model_path):
    srv = Server(model_path, "--max-body-bytes", str(MAX_BODY), "--max-texts", str(MAX_TEXTS))
    yield srv
    code, err = srv.stop()
    assert code == 0, err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def docs():
    return make_texts(120, seed=5)[0] + ["", "unknown words only", "goal!! 😀"]


def _post(server, path, payload, **kw):
    return httpx.post(server.url + path, json=payload, timeout=30, **kw)


def test_predictions_equal_the_library(server, model, model_path, docs):
    r = _post(server, "/predict", {"texts": docs})
    assert r.status_code == 200
    assert [p["labels"] for p in r.json()["predictions"]] == [[x] for x in model.predict(docs)]
    r = _post(server, "/predict", {"texts": docs, "k": 2, "threshold": 0.3, "proba": True})
    body = r.json()
    expected = model.predict_topk(docs, k=2, threshold=0.3)
    assert [
        list(zip(p["labels"], p["probabilities"], strict=True)) for p in body["predictions"]
    ] == [[(lab, prob) for lab, prob in row] for row in expected]
    assert body["classes"] == model.classes_.tolist()
    np.testing.assert_array_equal(
        [p["proba"] for p in body["predictions"]], model.predict_proba(docs)
    )
    # threshold alone: k as `bowclf predict --threshold` takes it (inference.topk_request:
    # 1 for this single-label model, as fastText; it was every class here, 1 there)
    r = _post(server, "/predict", {"texts": docs[:5], "threshold": 0.2})
    assert [p["labels"] for p in r.json()["predictions"]] == [
        [lab for lab, _ in row] for row in model.predict_topk(docs[:5], k=1, threshold=0.2)
    ]
    cli = CliRunner().invoke(cli_main, ["predict", str(model_path), "-", "--threshold", "0.2"],
                             input="\n".join(docs[:5]) + "\n")  # fmt: skip
    assert cli.output.splitlines() == [" ".join(p["labels"]) for p in r.json()["predictions"]]
    assert _post(server, "/predict", {"texts": []}).json() == {"predictions": []}
    r = _post(server, "/predict", {"texts": docs[:5], "k": 50})  # more than the classes
    assert [
        list(zip(p["labels"], p["probabilities"], strict=True)) for p in r.json()["predictions"]
    ] == [list(row) for row in model.predict_topk(docs[:5], k=50)]


def test_concurrent_requests_are_batched_and_exact(server, model, docs):
    before = httpx.get(server.url + "/health").json()

    def one(i):
        with httpx.Client(timeout=30) as c:
            chunk = docs[i % 10 :: 10]
            r = c.post(server.url + "/predict", json={"texts": chunk, "k": 1})
            return chunk, r.json()["predictions"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(64)))
    for chunk, preds in results:
        assert [(p["labels"][0], p["probabilities"][0]) for p in preds] == [
            row[0] for row in model.predict_topk(chunk, k=1)
        ]
    after = httpx.get(server.url + "/health").json()
    assert after["documents"] - before["documents"] == sum(len(c) for c, _ in results)
    assert after["batches"] - before["batches"] <= 64


def test_explain_endpoint_equals_the_library(server, model):
    texts = ["goal match team", "bake oven code"]
    r = _post(server, "/explain", {"texts": texts, "k": 2, "top": 3})
    assert r.status_code == 200
    expected = [json.loads(json.dumps(e.to_dict(top=3))) for e in model.explain(texts, k=2)]
    assert r.json()["explanations"] == expected
    r = _post(server, "/explain", {"texts": texts[:1], "labels": ["tech"], "top": None})
    (got,) = r.json()["explanations"]
    assert got["classes"][0]["label"] == "tech"
    assert sum(f["contribution"] for f in got["classes"][0]["features"]) == pytest.approx(
        got["classes"][0]["score"], rel=1e-5
    )


def test_explain_echoes_a_text_with_an_unpaired_surrogate(server, model):
    """JSON may carry "\\ud800"; /predict answers it, /explain echoes it escaped (not 422)."""
    body = b'{"texts": ["\\ud800 goal match"]}'
    headers = {"content-type": "application/json"}
    for path in ("/predict", "/explain"):
        r = httpx.post(server.url + path, content=body, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
    (got,) = r.json()["explanations"]
    assert got["text"] == "\ud800 goal match"
    assert got == json.loads(json.dumps(model.explain(["\ud800 goal match"])[0].to_dict(top=10)))


def test_info_health_openapi(server, model):
    info = httpx.get(server.url + "/info").json()
    assert info["classes"] == model.classes_.tolist()
    assert info["limits"]["max_texts"] == MAX_TEXTS
    spec = httpx.get(server.url + "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/predict", "/explain", "/health", "/info"} <= set(spec["paths"])
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"texts": ["a"', 400, "malformed JSON"),
        (b"", 400, "malformed JSON"),
        (b"\xff\xfe{", 400, "malformed JSON"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"texts": "one string"}', 422, "list of strings"),
        (b'{"texts": ["a", 3]}', 422, "texts[1] must be a string"),
        (b'{"texts": ["a"], "k": "2"}', 422, "'k'"),
        (b'{"texts": ["a"], "k": 0}', 422, "'k'"),
        (b'{"texts": ["a"], "k": true}', 422, "'k'"),
        (b'{"texts": ["a"], "threshold": 2}', 422, "'threshold'"),
        (b'{"texts": ["a"], "threshold": NaN}', 422, "'threshold'"),
        (b'{"texts": ["a"], "proba": "yes"}', 422, "'proba'"),
        (b'{"texts": ["a"], "kk": 1}', 422, "unknown field"),
        (json.dumps({"texts": ["a"] * (MAX_TEXTS + 1)}).encode(), 413, "exceed the limit"),
        (json.dumps({"texts": ["word " * 20_000]}).encode(), 413, "exceeds"),
    ],
)
def test_bad_requests_get_clear_4xx_json(server, body, status, message):
    r = httpx.post(server.url + "/predict", content=body, timeout=30)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert "Traceback" not in r.text


def test_deep_nesting_and_explain_errors(server):
    r = httpx.post(server.url + "/predict", content=b"[" * 5000 + b"]" * 5000)
    assert r.status_code in (400, 422) and "error" in r.json()
    r = _post(server, "/explain", {"texts": ["a"], "labels": ["nope"]})
    assert r.status_code == 422 and "unknown label" in r.json()["error"]
    r = _post(server, "/explain", {"texts": ["a"], "top": 0})
    assert r.status_code == 422


def test_unknown_routes_and_methods_and_chunked_bodies(server):
    assert httpx.get(server.url + "/nope").json() == {"error": "Not Found"}
    r = httpx.get(server.url + "/predict")
    assert r.status_code == 405 and "error" in r.json()
    big = iter([b'{"texts": ["', b"x" * (MAX_BODY // 2), b"x" * (MAX_BODY // 2), b'"]}'])
    r = httpx.post(server.url + "/predict", content=big)  # chunked: no Content-Length
    assert r.status_code == 413 and "exceeds" in r.json()["error"]


def test_health_answers_during_load(server, docs):
    stop = time.monotonic() + 2.0
    big = {"texts": (docs * 3)[: MAX_TEXTS // 2], "proba": True}

    def load_loop(_):
        n = 0
        with httpx.Client(timeout=30) as c:
            while time.monotonic() < stop:
                assert c.post(server.url + "/predict", json=big).status_code == 200
                n += 1
        return n

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(load_loop, i) for i in range(6)]
        slowest = 0.0
        time.sleep(0.3)
        while time.monotonic() < stop:
            t = time.monotonic()
            assert httpx.get(server.url + "/health", timeout=10).status_code == 200
            slowest = max(slowest, time.monotonic() - t)
            time.sleep(0.05)
        assert sum(f.result() for f in futures) >= 6
    assert slowest < 2.0


def test_sigterm_finishes_requests_in_flight_then_exits_0(model_path, model, docs):
    srv = Server(model_path)
    texts = (docs * 4)[:400]
    body = json.dumps({"texts": texts}).encode()
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    clients = [socket.create_connection(("127.0.0.1", srv.port), timeout=30) for _ in range(3)]
    for c in clients:  # requests in flight: all but the last byte of the body sent
        c.sendall(head + body[:-1])
    deadline = time.monotonic() + 20
    while httpx.get(srv.url + "/health").json()["in_flight"] < len(clients):
        assert time.monotonic() < deadline, "the requests never reached the handler"
        time.sleep(0.05)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    for c in clients:
        c.sendall(body[-1:])
    expected = [[x] for x in model.predict(texts)]
    for c in clients:
        raw = b""
        while chunk := c.recv(1 << 16):
            raw += chunk
        c.close()
        status, _, payload = raw.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 200"), raw[:200]
        assert [p["labels"] for p in json.loads(payload)["predictions"]] == expected
    code, err = srv.stop(signal_it=False)  # one SIGTERM only
    assert code == 0, err
    assert "Traceback" not in err
    with pytest.raises(httpx.TransportError):
        httpx.get(srv.url + "/health", timeout=2)


def test_serve_refuses_a_bad_model_file(tmp_path):
    from click.testing import CliRunner

    from bowclf.cli import cli

    bad = tmp_path / "bad.bowclf"
    bad.write_bytes(b"not a model")
    result = CliRunner().invoke(cli, ["serve", str(bad), "--port", str(_free_port())])
    assert result.exit_code == 1
    assert result.stderr.startswith("bowclf: error:") and "Traceback" not in result.stderr


def test_multilabel_and_integer_labels_in_a_server_thread():
    """The app on uvicorn in a thread of this process: multi-label label sets and integer
    classes come back as the library gives them."""
    import threading

    import uvicorn

    from bowclf.serve import ServeConfig, create_app

    texts, y = make_texts(200, seed=2)
    multi = [(lab,) + (("extra",) if i % 3 == 0 else ()) for i, lab in enumerate(y)]
    ints = [["sports", "tech", "food"].index(lab) for lab in y]
    for labels in (multi, ints):
        model = TextClassifier(dim=8, epochs=3, buckets=2000, random_state=0).fit(texts, labels)
        app = create_app(ServeConfig(model_path="m.bowclf"), model=model)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        try:
            docs = texts[:20]
            got = httpx.post(url + "/predict", json={"texts": docs}).json()["predictions"]
            expected = model.predict(docs)
            if model.multilabel_:
                assert [tuple(p["labels"]) for p in got] == expected
            else:
                assert [p["labels"] for p in got] == [[int(v)] for v in expected]
            first = model.classes_[0].item()
            r = httpx.post(url + "/explain", json={"texts": docs[:2], "labels": [first]})
            assert r.status_code == 200
            assert r.json()["explanations"][0]["classes"][0]["label"] == first
            assert httpx.get(url + "/info").json()["multilabel"] == model.multilabel_
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        assert not thread.is_alive()


def test_serve_on_a_taken_port_fails_with_one_line(model_path):
    from click.testing import CliRunner

    from bowclf.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", str(model_path), "--port", str(port), "--log-level", "critical"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1].startswith("bowclf: error: the server could not start")
    assert "Traceback" not in result.stderr


@pytest.mark.filterwarnings("ignore:Using `httpx` with")  # starlette asks for httpx2
def test_a_served_file_predicts_from_its_prediction_path_and_loads_the_model_for_explain(
    model_path, model, monkeypatch
):
    """Served from its file, a model answers /predict from the file's prediction path
    (load_predictor: memory-mapped, no scikit-learn) and reads the whole model once, on the
    first /explain; /info says what it says of the fitted model."""
    from starlette.testclient import TestClient

    import bowclf.persist
    from bowclf.serve import ServeConfig, create_app

    loads, real_load = [], bowclf.persist.load
    monkeypatch.setattr(bowclf.persist, "load", lambda p: loads.append(p) or real_load(p))
    config = ServeConfig(model_path=str(model_path))
    docs = ["goal match team", "bake oven code", ""]
    with (
        TestClient(create_app(config)) as from_file,
        TestClient(create_app(config, model=model)) as from_model,
    ):
        assert from_file.get("/info").json() == from_model.get("/info").json()
        for body in ({"texts": docs}, {"texts": docs, "k": 2, "proba": True}):
            assert (from_file.post("/predict", json=body).json()
                    == from_model.post("/predict", json=body).json())  # fmt: skip
        assert loads == []
        for _ in range(2):
            got = from_file.post("/explain", json={"texts": docs[:2], "k": 2})
            assert (
                got.json() == from_model.post("/explain", json={"texts": docs[:2], "k": 2}).json()
            )
        assert loads == [str(model_path)]


@pytest.mark.filterwarnings("ignore:Using `httpx` with")  # starlette asks for httpx2
def test_explain_refuses_a_model_file_replaced_since_the_server_started(tmp_path):
    """/predict keeps answering with the model the server read; /explain, which reads the
    whole model on first use, must not explain another one saved over it meanwhile (it did:
    a retrained model's labels and probabilities)."""
    from starlette.testclient import TestClient

    from bowclf.serve import ServeConfig, create_app

    texts, y = make_texts(120, seed=1)
    path = tmp_path / "m.bowclf"
    save(TextClassifier(dim=8, epochs=2, random_state=0).fit(texts, y), path)
    with TestClient(create_app(ServeConfig(model_path=str(path)))) as client:
        before = client.post("/predict", json={"texts": texts[:3]}).json()
        other = ["x" if i % 2 else "z" for i in range(len(texts))]
        save(TextClassifier(dim=8, epochs=2, random_state=0).fit(texts, other), path)
        got = client.post("/explain", json={"texts": texts[:1]})
        assert got.status_code == 503 and "restart the server" in got.json()["error"]
        assert client.post("/predict", json={"texts": texts[:3]}).json() == before


def test_the_server_serves_its_own_copy_of_the_file(tmp_path):
    """`bowclf serve` reads a private copy made at start: a model file overwritten in place
    (same inode, as cp does) while memory-mapped gave wrong answers, then 500s, then SIGBUS;
    now /predict and /explain answer from the model the server started with, and the copy
    is gone when it stops."""
    texts, y = make_texts(300, seed=2)
    path = tmp_path / "served.bowclf"
    first = TextClassifier(dim=8, epochs=2, random_state=0).fit(texts, y)
    save(first, path)
    other = tmp_path / "other.bowclf"
    flipped = [{"a": "b", "b": "a"}.get(label, label) for label in y]
    save(TextClassifier(dim=8, epochs=2, random_state=1).fit(texts, flipped), other)
    srv = Server(path)
    try:
        (copy,) = tmp_path.glob(".served.bowclf.serving-*")  # beside it: the same disk
        assert copy.stat().st_mode & 0o777 == 0o400
        path.write_bytes(other.read_bytes())  # in place: the same inode
        got = _post(srv, "/predict", {"texts": texts[:50]}).json()["predictions"]
        assert [p["labels"][0] for p in got] == first.predict(texts[:50]).tolist()
        explained = _post(srv, "/explain", {"texts": texts[:2]})
        assert explained.status_code == 200
        assert explained.json()["explanations"] == [
            e.to_dict(top=10) for e in first.explain(texts[:2], k=1)
        ]
    finally:
        code, _ = srv.stop()
    assert code == 0 and not copy.exists()


@pytest.mark.filterwarnings("ignore:Using `httpx` with")  # starlette asks for httpx2
def test_a_long_explanation_does_not_hold_up_predictions(model, monkeypatch):
    """/explain runs on a thread of its own: a /predict sent while a slow explanation runs is
    answered at once (they shared the model thread: 13.5 s behind a 15 s explanation)."""
    import threading

    from starlette.testclient import TestClient

    from bowclf.serve import ServeConfig, create_app

    release = threading.Event()
    slow = model.explain

    def explain(*args, **kwargs):
        release.wait(30)
        return slow(*args, **kwargs)

    monkeypatch.setattr(model, "explain", explain)
    with TestClient(create_app(ServeConfig(model_path="m.bowclf"), model=model)) as client:
        waiting = threading.Thread(target=client.post, args=("/explain",),
                                   kwargs={"json": {"texts": ["goal match"]}})  # fmt: skip
        waiting.start()
        time.sleep(0.2)
        start = time.perf_counter()
        assert client.post("/predict", json={"texts": ["goal match"]}).status_code == 200
        assert time.perf_counter() - start < 10 and not release.is_set()
        release.set()
        waiting.join(30)


@pytest.mark.filterwarnings("ignore:Using `httpx` with")  # starlette asks for httpx2
def test_an_app_serves_explanations_in_each_of_its_lifespans(model_path):
    """The explanation thread belongs to a lifespan: a second one (an app started again, as
    test clients do) answered /explain with 500 once the first had shut it down."""
    from starlette.testclient import TestClient

    from bowclf.serve import ServeConfig, create_app

    app = create_app(ServeConfig(model_path=str(model_path)))
    for _ in range(2):
        with TestClient(app) as client:
            assert client.post("/explain", json={"texts": ["goal match"]}).status_code == 200


def test_copies_left_by_killed_servers_are_removed_at_start(tmp_path):
    """A server killed with SIGKILL cannot remove its private copy: the next server started
    beside the same model removes the copies of this host's servers no longer running (they
    piled up), and keeps those of servers that are, those of other hosts (a shared
    directory: their process ids mean nothing here) and files that are not such copies."""
    from bowclf.serve import _host, _snapshot

    path = tmp_path / "m.bowclf"
    path.write_bytes(b"model bytes")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead, here = int(gone.stdout), _host()
    orphan = tmp_path / f".m.bowclf.serving-{dead}@{here}-abc123"
    kept = [
        tmp_path / f".m.bowclf.serving-{os.getppid()}@{here}-def456",  # running
        tmp_path / f".m.bowclf.serving-{dead}@otherhost-ghi789",  # another host's
        tmp_path / f".m.bowclf.serving-{dead}-jkl012",  # no host: not a copy of ours
        tmp_path / ".m.bowclf.serving-notapid@x-x",
        tmp_path / f".n.bowclf.serving-{dead}@{here}-x",
    ]
    for f in [orphan, *kept]:
        f.write_bytes(b"old")
    copy = _snapshot(str(path))
    try:
        assert os.path.basename(copy).startswith(f".m.bowclf.serving-{os.getpid()}@{here}-")
        assert open(copy, "rb").read() == b"model bytes"
        assert not orphan.exists()
        assert all(f.exists() for f in kept)
    finally:
        os.unlink(copy)


@pytest.mark.parametrize("qout", [False, True])
@pytest.mark.filterwarnings("ignore:Using `httpx` with")  # starlette asks for httpx2
def test_a_quantized_model_is_served(model, tmp_path, qout):
    """A `bowclf quantize`d file has no classifier/A member, only its codes: the server
    failed to start on it (KeyError: 'classifier/A'); it serves what load() predicts."""
    from starlette.testclient import TestClient

    import bowclf
    from bowclf.serve import ServeConfig, create_app

    small = bowclf.quantize(model, cutoff=300, qout=qout)
    path = save(small, tmp_path / "q.bowclf")
    texts = make_texts(20, seed=4)[0]
    with TestClient(create_app(ServeConfig(model_path=str(path)))) as client:
        info = client.get("/info").json()
        got = client.post("/predict", json={"texts": texts}).json()["predictions"]
    assert info["features"] == 300 and info["dim"] == 8
    assert [p["labels"][0] for p in got] == load(path).predict(texts).tolist()
