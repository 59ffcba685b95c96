"""An HTTP API over a saved :class:`~bowclf.TextClassifier` (the ``bowclf[serve]`` extra).

Starlette on uvicorn — an established ASGI stack, not a home-made server.  Starlette rather
than FastAPI: the API is four routes whose validation fits in one small function each, and
skipping pydantic models keeps the per-request overhead (which bounds 1-document throughput)
low; the OpenAPI schema is therefore written out here (:data:`OPENAPI`) and served at
``/openapi.json``.

Routes
------
``POST /predict``  ``{"texts": [str, ...], "k": int?, "threshold": float?, "proba": bool?}``
    Without ``k`` and ``threshold`` each document gets ``{"labels": [...]}`` from the model's
    :meth:`~bowclf.TextClassifier.predict` (its own decision rule: the arg-max, or the
    multi-label threshold); with either, ``{"labels", "probabilities"}`` from
    :meth:`~bowclf.TextClassifier.predict_topk` (only ``threshold`` given: ``k`` is 1 for a
    single-label model, every class for a multi-label one, as ``bowclf predict``:
    :func:`bowclf.inference.topk_request`).  ``proba: true`` adds every class probability
    (``predict_proba``, columns in the order of ``classes``, returned alongside).
``POST /explain``  ``{"texts": [...], "k": int?, "labels": [...]?, "top": int?}``
    :meth:`~bowclf.TextClassifier.explain` per document (``top`` strongest positive and
    negative features per class; ``null``: every feature).
``GET /health``, ``GET /info``, ``GET /openapi.json``.

Errors are JSON ``{"error": "..."}``: 400 malformed JSON, 413 body or document count over the
limits, 422 wrong types or values, 404/405 unknown route or method; never a traceback.

Micro-batching: requests are queued; one task takes everything queued (up to ``max_batch``
documents; while requests arrive together, after waiting ``batch_window`` seconds for more)
and makes one library call per distinct operation on the concatenated texts, in a single
worker thread (so the
model, whose vectorizer builds caches lazily, is never used by two threads at once, and the
event loop stays free to answer ``/health``).  The library computes each row independently,
so a batched answer is exactly the per-request one.  While one batch is computed the next
accumulates, so batches grow, and throughput with them, as concurrency rises.

One model per worker process: :func:`create_app` reads the file's prediction path once
(:func:`bowclf.persist.load_predictor`: no scikit-learn, ``A`` memory-mapped, so N workers
share its pages), and the whole model (:func:`bowclf.load`) when ``/explain`` is first asked
(explanations run on a thread of their own, so a long one never holds up ``/predict``);
:func:`run` serves a private copy of the file, so that it may be overwritten or replaced;
``--workers N`` starts N uvicorn processes, each building its app from
:func:`app_from_environment`.  uvicorn stops
on SIGTERM gracefully: it stops accepting, finishes the requests in flight, then the app's
lifespan drains the batch queue.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import defaults
from ._json import plain
from .inference import topk_request

try:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("bowclf serve needs the 'serve' extra: pip install 'bowclf[serve]'") from exc

if TYPE_CHECKING:  # pragma: no cover
    from .text import TextClassifier

__all__ = ["OPENAPI", "ServeConfig", "app_from_environment", "create_app", "run"]


class _EchoJSON(JSONResponse):
    """A JSON response that may echo the request's texts: one holding an unpaired surrogate
    (a ``\\ud800`` escape in the request) is sent escaped, not refused as unencodable."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


ENV_CONFIG = "BOWCLF_SERVE_CONFIG"
_MAX_K = 1_000_000  # largest k accepted (any k >= the number of classes means all of them)

#: Set once an app's lifespan started in this process: uvicorn's own signal handlers are in
#: place from before that point until it has shut down (then it re-raises the signal).
SERVING = threading.Event()


@dataclass(frozen=True)
class ServeConfig:
    """Server limits and batching parameters.

    ``max_body_bytes``: largest request body; ``max_texts``: most documents in one request;
    ``max_batch``: most documents in one library call (requests are never split, so a batch
    holds at least one request); ``batch_window``: seconds the batcher waits for more
    requests once one arrived, while requests arrive together (the previous batch held more
    than one, or more are queued); a lone client is never delayed (0: only those already
    queued).  ``snapshot``: the private copy of ``model_path`` the server reads (made by
    :func:`run`, so that overwriting or replacing the file changes nothing served), or None:
    ``model_path`` itself.
    """

    model_path: str
    max_body_bytes: int = defaults.SERVE_MAX_BODY_BYTES
    max_texts: int = defaults.SERVE_MAX_TEXTS
    max_batch: int = defaults.SERVE_MAX_BATCH
    batch_window: float = defaults.SERVE_BATCH_WINDOW
    snapshot: str | None = None

    @property
    def source(self) -> str:
        """The file the server reads its model from."""
        return self.snapshot or self.model_path


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------- micro-batching
class _Batcher:
    """Queue of ``(operation, texts, future)``; see the module docstring."""

    def __init__(self, model, max_batch: int, window: float) -> None:
        self.model = model
        self.max_batch = max_batch
        self.window = window
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bowclf-model")
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.documents = 0
        self.concurrent = False

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Answer everything queued, then stop the task and the model thread."""
        await self.queue.put(None)
        if self.task is not None:
            await self.task
        self.executor.shutdown(wait=True)

    async def submit(self, op: tuple, texts: list[str]) -> list:
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put((op, texts, fut))
        return await fut

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the model thread (between batches)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            item = await self.queue.get()
            if item is None:
                break
            batch = [item]
            size = len(item[1])
            if self.window > 0 and size < self.max_batch and self.concurrent:
                await asyncio.sleep(self.window)
            while size < self.max_batch and not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
                size += len(nxt[1])
            try:
                results = await loop.run_in_executor(self.executor, self._compute, batch)
            except Exception as exc:  # a library failure: every waiting request gets it
                results = [exc] * len(batch)
            for (_, _, fut), res in zip(batch, results, strict=True):
                if fut.done():  # the client went away
                    continue
                if isinstance(res, Exception):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
            self.batches += 1
            self.documents += size
            # wait for company only while requests come together: a lone client is not delayed
            self.concurrent = len(batch) > 1 or not self.queue.empty()

    def _compute(self, batch: list) -> list:
        """One library call per distinct operation; results split back per request."""
        groups: dict[tuple, list[int]] = {}
        for i, (op, _, _) in enumerate(batch):
            groups.setdefault(op, []).append(i)
        results: list[Any] = [None] * len(batch)
        for op, members in groups.items():
            texts = [t for i in members for t in batch[i][1]]
            try:
                rows = _run_op(self.model, op, texts)
            except Exception as exc:
                for i in members:
                    results[i] = exc
                continue
            start = 0
            for i in members:
                n = len(batch[i][1])
                results[i] = rows[start : start + n]
                start += n
        return results


def _run_op(model, op: tuple, texts: list[str]) -> list:
    """The library call of an operation: JSON-ready rows, one per text."""
    if not texts:
        return []
    if op[0] == "predict":
        pred = model.predict(texts)
        if getattr(model, "multilabel_", False):
            return [[plain(v) for v in labels] for labels in pred]
        return [[v] for v in np.asarray(pred).tolist()]
    if op[0] == "topk":
        return model.predict_topk(texts, k=op[1], threshold=op[2])
    if op[0] == "proba":
        return model.predict_proba(texts).tolist()
    raise AssertionError(op)


# ---------------------------------------------------------------------- validation
async def _read_json(request: Request, limit: int) -> dict:
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise _ClientError(400, "invalid Content-Length header") from None
        if declared > limit:
            raise _ClientError(413, f"request body of {declared} bytes exceeds {limit} bytes")
        body = await request.body()
    else:
        chunks = bytearray()
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > limit:
                raise _ClientError(413, f"request body exceeds {limit} bytes")
        body = bytes(chunks)
    if len(body) > limit:
        raise _ClientError(413, f"request body exceeds {limit} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _ClientError(400, f"malformed JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise _ClientError(422, "the body must be a JSON object")
    return data


def _check_keys(data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _ClientError(422, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")


def _texts(data: dict, max_texts: int) -> list[str]:
    texts = data.get("texts")
    if not isinstance(texts, list):
        raise _ClientError(422, "'texts' must be a list of strings")
    if len(texts) > max_texts:
        raise _ClientError(413, f"{len(texts)} texts exceed the limit of {max_texts} per request")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise _ClientError(422, f"texts[{i}] must be a string, not {_json_type(t)}")
    return texts


def _int(data: dict, name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _ClientError(422, f"'{name}' must be an integer in [{lo}, {hi}]")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


# ---------------------------------------------------------------------- the app
def create_app(config: ServeConfig, model: TextClassifier | None = None) -> Starlette:
    """The ASGI app serving ``model``, a fitted :class:`~bowclf.TextClassifier`, or when
    not given the model file ``config.model_path`` (its prediction path at once, the whole
    model for ``/explain`` on first use, see the module).

    Parameters
    ----------
    config : ServeConfig
        The model path and the server's limits.
    model : TextClassifier, optional
        A fitted model to serve instead of loading ``config.model_path``.

    Returns
    -------
    starlette.applications.Starlette
        The app (routes ``/predict``, ``/explain``, ``/health``, ``/info``,
        ``/openapi.json``).

    Raises
    ------
    ValueError
        If the model (given or loaded) is not a text model.
    ModelFileError
        If the model file cannot be loaded (:func:`bowclf.persist.load_predictor`).
    """
    if model is None:
        from .inference import TextPredictor
        from .persist import load_predictor

        served = _file_identity(config.source)
        predictor, header = load_predictor(config.source)
        if not isinstance(predictor, TextPredictor):
            raise ValueError(f"{config.model_path}: a TextClassifier model is needed to serve text")
        service = _Service(predictor, config, _file_info(predictor, header))
        service.served_file = served
    elif not hasattr(model, "vectorizer_"):
        raise ValueError(f"{config.model_path}: a TextClassifier model is needed to serve text")
    else:
        service = _Service(model, config, _model_info(model), explainer=model)
    return Starlette(
        routes=[
            Route("/predict", service.counted(service.predict), methods=["POST"]),
            Route("/explain", service.counted(service.explain), methods=["POST"]),
            Route("/health", service.health, methods=["GET"]),
            Route("/info", service.info, methods=["GET"]),
            Route("/openapi.json", _openapi, methods=["GET"]),
        ],
        exception_handlers={
            _ClientError: _client_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=service.lifespan,
    )


class _Service:
    """The routes' shared state: the model, its batcher, and the requests in flight."""

    def __init__(self, model, config: ServeConfig, info: dict, explainer=None) -> None:
        self.model, self.config = model, config
        self.classes = [plain(c) for c in np.asarray(model.classes_).tolist()]
        self.model_info = _described(info, config, self.classes)
        self.explainer = explainer  # the whole model, read from the file when first needed
        self.served_file: tuple | None = None  # the file's identity when it was read
        self.in_flight = 0
        self.batcher: _Batcher | None = None
        # explanations on a thread of their own (one for each lifespan of the app): a long one
        # never holds up /predict's batches
        self.explain_thread: ThreadPoolExecutor | None = None

    def _explainer(self):
        """The model :meth:`explain` asks (in the explanation thread: one load, never two): the
        file's whole model, read only if it is still the file ``/predict`` answers from."""
        if self.explainer is None:
            from .persist import load

            if _file_identity(self.config.source) != self.served_file:
                raise _ClientError(
                    503,
                    f"{os.path.basename(self.config.model_path)} changed since the server "
                    "started (/predict answers with the model read then): restart the server "
                    "to serve and explain the new one",
                )
            self.explainer = load(self.config.source)
        return self.explainer

    @asynccontextmanager
    async def lifespan(self, app):
        explain_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bowclf-explain")
        self.explain_thread = explain_thread
        batcher = _Batcher(self.model, self.config.max_batch, self.config.batch_window)
        await batcher.call(lambda: self.model.predict(["warm up"]))  # build lazy caches now
        batcher.start()
        self.batcher = batcher
        SERVING.set()
        try:
            yield
        finally:
            await batcher.stop()
            await asyncio.to_thread(explain_thread.shutdown, True)  # this lifespan's own

    def counted(self, handler):
        """Count the requests inside ``handler`` (reported as ``in_flight`` by /health)."""

        async def wrapper(request: Request) -> JSONResponse:
            self.in_flight += 1
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1

        return wrapper

    async def predict(self, request: Request) -> JSONResponse:
        data = await _read_json(request, self.config.max_body_bytes)
        _check_keys(data, {"texts", "k", "threshold", "proba"})
        texts = _texts(data, self.config.max_texts)
        k, threshold, proba = _predict_options(data)
        n_classes = len(self.classes)
        if k is None and threshold is None:
            rows = await self.batcher.submit(("predict",), texts)
            preds = [{"labels": r} for r in rows]
        else:
            multilabel = bool(getattr(self.model, "multilabel_", False))
            try:  # the library's rule for k and threshold, as `bowclf predict` applies it
                topk = topk_request(k, threshold, n_classes=n_classes, multilabel=multilabel)
            except ValueError as exc:
                raise _ClientError(422, str(exc)) from None
            op = ("topk", *topk)
            rows = await self.batcher.submit(op, texts)
            preds = [
                {"labels": [plain(lab) for lab, _ in r], "probabilities": [p for _, p in r]}
                for r in rows
            ]
        out: dict[str, Any] = {"predictions": preds}
        if proba:
            out["classes"] = self.classes
            for pred, row in zip(preds, await self.batcher.submit(("proba",), texts), strict=True):
                pred["proba"] = row
        return JSONResponse(out)

    async def explain(self, request: Request) -> JSONResponse:
        data = await _read_json(request, self.config.max_body_bytes)
        _check_keys(data, {"texts", "k", "labels", "top"})
        texts = _texts(data, self.config.max_texts)
        k = min(_int(data, "k", 1, 1, _MAX_K), len(self.classes))
        top = _int(data, "top", 10, 1, 1_000_000) if data.get("top", 10) is not None else None
        labels = data.get("labels")
        if labels is not None:
            if not isinstance(labels, list) or not labels:
                raise _ClientError(422, "'labels' must be a non-empty list of class labels")
            unknown = [lab for lab in labels if lab not in self.classes or isinstance(lab, bool)]
            if unknown:
                raise _ClientError(422, f"unknown label(s) {unknown[:10]}; see GET /info")

        def run() -> list:
            if not texts:
                return []
            found = self._explainer().explain(texts, k=k, labels=labels)
            return [e.to_dict(top=top) for e in found]

        loop = asyncio.get_running_loop()
        try:
            return _EchoJSON({"explanations": await loop.run_in_executor(self.explain_thread, run)})
        except ValueError as exc:  # e.g. a loss without linear scores
            raise _ClientError(422, str(exc)) from None

    async def health(self, request: Request) -> JSONResponse:
        b = self.batcher
        return JSONResponse(
            {
                "status": "ok",
                "in_flight": self.in_flight,
                "queued": 0 if b is None else b.queue.qsize(),
                "batches": 0 if b is None else b.batches,
                "documents": 0 if b is None else b.documents,
            }
        )

    async def info(self, request: Request) -> JSONResponse:
        return JSONResponse(self.model_info)


def _predict_options(data: dict) -> tuple[int | None, float | None, bool]:
    """``(k, threshold, proba)`` of a /predict request: ``k`` within the server's bound,
    ``proba`` a boolean (422 otherwise); ``k`` and ``threshold`` then go to
    :func:`bowclf.inference.topk_request`, the library's rule."""
    k = _int(data, "k", None, 1, _MAX_K)
    threshold = data.get("threshold")
    proba = data.get("proba", False)
    if not isinstance(proba, bool):
        raise _ClientError(422, "'proba' must be true or false")
    return k, threshold, proba


async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(OPENAPI)


async def _client_error(request: Request, exc: _ClientError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "internal server error"}, status_code=500)


def _file_identity(path: str) -> tuple | None:
    """What tells a model file from one that replaced it (atomic saves rename a new file into
    place: a new inode), or None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _model_info(model) -> dict[str, Any]:
    """What ``/info`` tells of a fitted TextClassifier."""
    clf = model.classifier_
    return {
        "multilabel": bool(getattr(model, "multilabel_", False)),
        "loss": clf.loss,
        "dim": int(clf.A_.shape[0]),
        "features": int(clf.A_.shape[1]),
        "vocabulary": len(model.vectorizer_.vocabulary_),
        "training_summary": getattr(model, "training_summary_", None),
    }


def _file_info(predictor, header: dict) -> dict[str, Any]:
    """:func:`_model_info` of a model file, from its validated header (what the file holds,
    as :func:`bowclf.load` would read it)."""
    from .io.quantized import decoded_shapes

    # A is stored as Aᵀ (one row a feature), or as the codes of bowclf.quantize
    shapes = {name: spec["shape"] for name, spec in header["arrays"].items()}
    features, dim = decoded_shapes(header, shapes)["classifier/A"]
    return {
        "multilabel": predictor.multilabel_,
        "loss": header["params"]["loss"],
        "dim": int(dim),
        "features": int(features),
        "vocabulary": len(predictor.vectorizer.vocabulary),
        "training_summary": (header.get("text") or {}).get("training_summary"),
    }


def _described(info: dict[str, Any], config: ServeConfig, classes: list) -> dict[str, Any]:
    from . import __version__

    return {
        "model": os.path.basename(config.model_path),
        "bowclf_version": __version__,
        "classes": classes,
        "multilabel": bool(info.pop("multilabel", False)),
        **info,
        "limits": {k: v for k, v in asdict(config).items() if k not in ("model_path", "snapshot")},
        "pid": os.getpid(),
    }


def app_from_environment() -> Starlette:
    """App factory for uvicorn worker processes: the config comes as JSON in
    ``$BOWCLF_SERVE_CONFIG`` (set by :func:`run`).

    Returns
    -------
    starlette.applications.Starlette
        :func:`create_app` of that config.
    """
    return create_app(ServeConfig(**json.loads(os.environ[ENV_CONFIG])))


def run(
    config: ServeConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM/SIGINT (graceful: requests in flight are answered).

    The workers read a private copy of the model file made first (``config.snapshot``:
    :func:`_snapshot`, removed when the server stops): the file may then be overwritten in
    place or replaced without changing, or breaking, what is served (its large matrix is
    memory-mapped, and a file rewritten under a mapping gives wrong numbers or a crash);
    restart to serve a new model.  ``OSError`` if the copy can be written neither beside
    the file nor in the temporary directory.
    """
    import uvicorn

    common = {"host": host, "port": port, "log_level": log_level, "timeout_graceful_shutdown": 30}
    snapshot = _snapshot(config.model_path)
    try:
        config = replace(config, snapshot=snapshot)
        if workers > 1:
            os.environ[ENV_CONFIG] = json.dumps(asdict(config))
            uvicorn.run("bowclf.serve:app_from_environment", factory=True, workers=workers,
                        **common)  # fmt: skip
        else:
            uvicorn.run(create_app(config), **common)
    finally:
        os.unlink(snapshot)


def _snapshot(path: str) -> str:
    """A read-only private copy of the file ``path`` (its path): beside it as a hidden file
    (the same file system: no memory taken by a RAM-backed temporary directory), else in
    the temporary directory when it cannot be written there (read-only, full).

    The copy's name holds the server's process id and host name.  A server killed with
    SIGKILL cannot remove its copy, so copies left by servers of this host no longer running
    are removed first."""
    import tempfile

    directory, name = os.path.split(os.path.abspath(path))
    prefix, suffix = f".{name}.serving-", os.path.splitext(name)[1]
    owner = f"{os.getpid()}@{_host()}-"
    try:
        _remove_orphans(directory, prefix, "")
        return _copy_to(path, tempfile.mkstemp(prefix=f"{prefix}{owner}", dir=directory))
    except OSError:
        _remove_orphans(tempfile.gettempdir(), "bowclf-serve-", suffix)
        made = tempfile.mkstemp(prefix=f"bowclf-serve-{owner}", suffix=suffix)
        return _copy_to(path, made)


def _host() -> str:
    import socket

    return socket.gethostname().replace("-", "_") or "host"  # '-' ends the owner in a name


def _remove_orphans(directory: str, prefix: str, suffix: str) -> None:
    """Remove the copies ``<prefix><pid>@<host>-<random><suffix>`` in ``directory`` made on
    this host by a server process that no longer exists (a copy of another host — a shared
    or network directory, another container — or of a process that does or may exist, such
    as another user's, is kept)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    from .parallel import process_may_exist

    host = _host()
    for entry in names:
        if not entry.startswith(prefix) or not entry.endswith(suffix):
            continue
        owner, sep, _ = entry[len(prefix) :].partition("-")
        pid, at, where = owner.partition("@")
        if not (sep and at) or where != host or not pid.isdigit() or process_may_exist(int(pid)):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass  # another server removed it first, or it is not ours to remove


def _copy_to(path: str, made: tuple[int, str]) -> str:
    """Copy ``path`` into the file ``mkstemp`` made, read-only; removed if that fails."""
    import shutil

    fd, copy = made
    os.close(fd)
    try:
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o400)
    except BaseException:
        os.unlink(copy)
        raise
    return copy


# ---------------------------------------------------------------------- OpenAPI
_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXTS = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Documents (at most max_texts, see GET /info).",
}


def _errors(*codes: int) -> dict:
    why = {
        400: "Malformed JSON",
        404: "Unknown route",
        413: "Body or number of texts over the limits",
        422: "Wrong field types or values",
        503: "The model file changed since the server started (an app reading the file itself, "
        "not the copy bowclf serve reads: restart it)",
    }
    return {
        str(c): {
            "description": why[c],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for c in codes
    }


def _json_body(schema_ref: str) -> dict:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def _ok(schema: dict, description: str) -> dict:
    return {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}}
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "bowclf",
        "version": "1",
        "description": "Predictions and exact explanations of a bowclf text classifier.",
    },
    "paths": {
        "/predict": {
            "post": {
                "summary": "Predict labels (micro-batched with concurrent requests)",
                "requestBody": _json_body("PredictRequest"),
                "responses": {
                    **_ok({"$ref": "#/components/schemas/PredictResponse"}, "One per text"),
                    **_errors(400, 413, 422),
                },
            }
        },
        "/explain": {
            "post": {
                "summary": "Exact per-feature contributions to the class scores",
                "requestBody": _json_body("ExplainRequest"),
                "responses": {
                    **_ok({"$ref": "#/components/schemas/ExplainResponse"}, "One per text"),
                    **_errors(400, 413, 422, 503),
                },
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness and batching counters",
                "responses": _ok({"$ref": "#/components/schemas/Health"}, "Serving"),
            }
        },
        "/info": {
            "get": {
                "summary": "The model served and the server limits",
                "responses": _ok({"type": "object"}, "Model description"),
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            },
            "Label": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "PredictRequest": {
                "type": "object",
                "required": ["texts"],
                "additionalProperties": False,
                "properties": {
                    "texts": _TEXTS,
                    "k": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Return the k most probable labels with probabilities.",
                    },
                    "threshold": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1,
                        "description": "Only labels with at least this probability (top-k).",
                    },
                    "proba": {
                        "type": "boolean",
                        "default": False,
                        "description": "Add every class probability (order: 'classes').",
                    },
                },
            },
            "Prediction": {
                "type": "object",
                "required": ["labels"],
                "properties": {
                    "labels": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}},
                    "probabilities": {"type": "array", "items": {"type": "number"}},
                    "proba": {"type": "array", "items": {"type": "number"}},
                },
            },
            "PredictResponse": {
                "type": "object",
                "required": ["predictions"],
                "properties": {
                    "predictions": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Prediction"},
                    },
                    "classes": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}},
                },
            },
            "ExplainRequest": {
                "type": "object",
                "required": ["texts"],
                "additionalProperties": False,
                "properties": {
                    "texts": _TEXTS,
                    "k": {"type": "integer", "minimum": 1, "default": 1},
                    "labels": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}},
                    "top": {"type": ["integer", "null"], "minimum": 1, "default": 10},
                },
            },
            "ExplainResponse": {
                "type": "object",
                "required": ["explanations"],
                "properties": {
                    "explanations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "description": "bowclf.explain.Explanation.to_dict(top)",
                        },
                    }
                },
            },
            "Health": {
                "type": "object",
                "properties": {
                    "status": {"type": "string"},
                    "in_flight": {"type": "integer", "description": "/predict, /explain calls"},
                    "queued": {"type": "integer"},
                    "batches": {"type": "integer"},
                    "documents": {"type": "integer"},
                },
            },
        }
    },
}
