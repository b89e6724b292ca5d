"""The lab's ASGI app: one page and the JSON API it draws from (docs/serve.md).

::

    GET  /                              the page (``static/index.html``)
    GET  /static/<name>                 its script and style: files of ``static/`` only
    GET  /api/health                    {"ok": true, "queued": n, "queue": limit}
    GET  /api/models                    {"models": [{"id", "title", "group", "task", "status",
                                         "limit", "options", "examples", ...}, ...]}
    POST /api/models/<id>/probe         {"input": "0 1 1", "options": {...}}
                                        or {"image": "<base64 PNG/JPEG>", "options": {...}}
                                        -> the network's work on it (``Task.probe``)
    POST /api/models/<id>/predict       {"inputs": ["0 1 1", ...], "options": {...}}
                                        -> {"answers": [...]} (``Run.predict``)
    GET  /api/models/<id>/metrics       {"rows": [...]}: the run's metrics.jsonl

Every error is JSON, ``{"error": "...", ...}``: 400 malformed JSON or wrong types, 404
unknown model or path, 405 wrong method, 413 a body or an input over its limit (the
limit is in the message and in ``"limit"``), 422 an input the network cannot read, 503
the queue is full or the network is still training. Model work runs on one worker
thread behind a queue of ``queue`` requests; one more is refused with 503 at once.

Only networks named at start-up are served, by id; no request names a path. The static
files are read into memory at start-up, so nothing a client sends reaches the disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rnnlab.serve.networks import Network, NotReady
from rnnlab.tasks.base import InputTooLong

log = logging.getLogger("rnnlab.serve")

MAX_LINES = 256  # inputs in one predict request
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Limits:
    max_body: int = 3_000_000  # bytes of a request body (an image upload is base64 in JSON)
    max_tokens: int = 10_000  # bits, tokens or words of one input
    max_image: int = 2_000_000  # bytes of one uploaded image, decoded
    queue: int = 32  # model requests waiting or running; one more gets a 503
    threads: int = 1  # torch threads of the worker


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class Worker:
    """One thread runs the model work, at most ``capacity`` requests queued or running."""

    def __init__(self, capacity: int, threads: int) -> None:
        self.capacity = capacity
        self.pending = 0  # changed only on the event loop's thread
        self.pool = ThreadPoolExecutor(1, "rnnlab-model", torch.set_num_threads, (threads,))

    async def run(self, fn: Callable[[], Any]) -> Any:
        if self.pending >= self.capacity:
            raise ApiError(
                503, f"busy: {self.pending} requests are queued (limit {self.capacity})", retry=1
            )
        self.pending += 1
        try:
            return await asyncio.wrap_future(self.pool.submit(fn))
        finally:
            self.pending -= 1


@dataclass
class Lab:
    """What one server serves: its networks by id, its limits and its worker."""

    networks: dict[str, Network]
    limits: Limits = field(default_factory=Limits)
    worker: Worker | None = None

    def __post_init__(self) -> None:
        if self.worker is None:
            self.worker = Worker(self.limits.queue, self.limits.threads)

    def get(self, model_id: str) -> Network:
        net = self.networks.get(model_id)
        if net is None:
            raise ApiError(404, f"no model {model_id!r}; served: {', '.join(self.networks)}")
        return net


# the page's own kinds, fixed: mimetypes reads the system's tables (a Windows registry can
# say text/plain for .js), and a module script of any other type is refused by the browser
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def _static_files(folder: Path | None = None) -> dict[str, tuple[bytes, str]]:
    """The page's files by name, read once: only plain files directly in the folder (the
    package's ``static/``); no symbolic links, nothing in subfolders."""
    root = folder or Path(str(resources.files("rnnlab.serve") / "static"))
    files = {}
    for entry in sorted(root.iterdir()):
        if entry.is_file() and not entry.is_symlink() and not entry.name.startswith("."):
            kind = _TYPES.get(entry.suffix) or mimetypes.guess_type(entry.name)[0]
            kind = kind or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            files[entry.name] = (entry.read_bytes(), kind)
    return files


async def _read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, refusing more than ``limit`` bytes before reading them."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, f"request body over the limit of {limit:,} bytes", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body over the limit of {limit:,} bytes", limit=limit)
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"expected a JSON object, got {type(body).__name__}")
    return body


def _field(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        got = "nothing" if name not in body else type(value).__name__
        raise ApiError(400, f"{name!r} must be a {kind.__name__}, got {got}")
    return value


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options = _field(body, "options", dict, {})
    unknown = sorted(set(body) - {"input", "inputs", "image", "options"})
    if unknown:
        raise ApiError(400, f"unknown fields {unknown}; known: input, inputs, image, options")
    return dict(options)


def create_app(
    lab: Lab, allowed_hosts: list[str] | None = None, static_dir: Path | None = None
) -> Starlette:
    """The app for ``lab``; ``allowed_hosts`` (Host headers) guards a loopback server
    against DNS rebinding (None: any); ``static_dir`` replaces the page's files (tests)."""
    static = _static_files(static_dir)
    limits = lab.limits
    worker = lab.worker
    assert worker is not None

    async def model_work(fn: Callable[[], Any]) -> Any:
        try:
            return await worker.run(fn)
        except NotReady as exc:
            raise ApiError(503, str(exc), retry=5) from None
        except InputTooLong as exc:
            raise ApiError(413, str(exc), limit=exc.limit) from None
        except (ValueError, TypeError) as exc:
            raise ApiError(422, str(exc)) from None

    async def page(request: Request) -> Response:
        return _file(static, "index.html")

    async def static_file(request: Request) -> Response:
        return _file(static, request.path_params["name"])

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "queued": worker.pending, "queue": worker.capacity})

    async def models(request: Request) -> Response:
        return JSONResponse({"models": [n.info(limits.max_tokens) for n in lab.networks.values()]})

    async def probe(request: Request) -> Response:
        net = lab.get(request.path_params["model_id"])
        body = await _read_json(request, limits.max_body)
        options = _options(body)
        if "image" in body:
            data = _image(_field(body, "image", str), limits.max_image)
            result = await model_work(lambda: net.probe(data, options, limits.max_tokens))
        else:
            line = _field(body, "input", str)
            result = await model_work(lambda: net.probe(line, options, limits.max_tokens))
        return JSONResponse(result)

    async def predict(request: Request) -> Response:
        net = lab.get(request.path_params["model_id"])
        body = await _read_json(request, limits.max_body)
        options = _options(body)
        lines = _field(body, "inputs", list)
        if not lines or len(lines) > MAX_LINES:
            raise ApiError(
                413 if lines else 400,
                f"'inputs' takes 1..{MAX_LINES} lines, got {len(lines)}",
                limit=MAX_LINES,
            )
        if not all(isinstance(line, str) for line in lines):
            raise ApiError(400, "'inputs' must be a list of strings")
        answers = await model_work(lambda: net.predict(lines, options, limits.max_tokens))
        return JSONResponse({"answers": answers})

    async def metrics(request: Request) -> Response:
        net = lab.get(request.path_params["model_id"])
        return JSONResponse({"rows": net.metrics()})

    routes = [
        Route("/", page),
        Route("/static/{name:path}", static_file),
        Route("/api/health", health),
        Route("/api/models", models),
        Route("/api/models/{model_id}/probe", probe, methods=["POST"]),
        Route("/api/models/{model_id}/predict", predict, methods=["POST"]),
        Route("/api/models/{model_id}/metrics", metrics),
    ]

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse({"error": exc.message, **exc.extra}, status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"error": "internal error (see the server's log)"}, status_code=500)

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ApiError: api_error,
        HTTPException: http_error,
        Exception: internal_error,
    }
    middleware = [Middleware(Guard, allowed_hosts=allowed_hosts)]
    return Starlette(routes=routes, exception_handlers=handlers, middleware=middleware)


class Guard:
    """Refuses a Host header not in ``allowed_hosts`` (a page of another site that
    resolves its name to 127.0.0.1 cannot reach the lab) and adds ``SECURITY_HEADERS``
    and ``Cache-Control: no-store`` to every response."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str] | None = None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed is not None:
            host = Headers(scope=scope).get("host", "").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.allowed:
                error = {"error": f"unexpected Host header {host!r}: use http://127.0.0.1"}
                await JSONResponse(error, status_code=400)(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers[key] = value
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _file(static: dict[str, tuple[bytes, str]], name: str) -> Response:
    if name not in static:
        raise ApiError(404, "not found")
    data, kind = static[name]
    return Response(data, media_type=kind)


def _image(text: str, limit: int) -> bytes:
    """Base64 (optionally a ``data:`` URL) -> bytes, at most ``limit`` of them."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) > limit * 4 // 3 + 4:
        raise ApiError(413, f"image over the limit of {limit:,} bytes", limit=limit)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "'image' must be base64 (or a data: URL) of a PNG or JPEG") from None
