"""The HTTP API served by uvicorn inside the daemon's own event loop.

uvicorn's ``Server.serve`` installs its own SIGINT/SIGTERM handlers (uvicorn issue
#1579) and restores and re-raises the signals when it stops; the daemon owns its
signals (drain on SIGTERM, reload on SIGHUP), so ``capture_signals`` is a no-op here
and the server stops when the composition root closes it (``should_exit``). The
socket is bound here, not by uvicorn, so a busy port is an error the daemon reports
instead of uvicorn's ``sys.exit``: ``InUse`` (temporary, systemd restarts the daemon), while
an address that cannot be had at all is a ``ConfigError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable, Generator
from typing import Any

import structlog
import uvicorn

from dialerd.api.app import create_app
from dialerd.api.context import ApiContext, LiveState, no_live_state
from dialerd.api.writer import IntakeWriter
from dialerd.config import ConfigError, Settings
from dialerd.domain import InUse
from dialerd.policy.pick import Policy
from dialerd.store import sql
from dialerd.store.sql import Store

log = structlog.get_logger(__name__)

STOP_TIMEOUT_S = 10  # whole seconds: uvicorn's timeout_graceful_shutdown is an int


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling (the daemon's stay in charge); the console too."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon's signal handlers stay in charge

    def install_signal_handlers(self) -> None:  # older uvicorn releases
        pass


class ApiServer:
    """Bind, serve in the background, and on exit stop taking requests and finish the open ones."""

    def __init__(
        self,
        db: Store,
        settings: Callable[[], Settings],
        policy: Callable[[], Policy],
        wake: Callable[[], None],
        ami_connected: Callable[[], bool],
        *,
        clock: Callable[[], float] | None = None,
        live: Callable[[float], LiveState] = no_live_state,
        result_recorded: Callable[[str], None] = lambda _operator: None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._policy = policy
        self._wake = wake
        self._ami_connected = ami_connected
        self._live = live
        self._result_recorded = result_recorded
        self._clock_kw: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self._stack = contextlib.AsyncExitStack()
        self._server: QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def __aenter__(self) -> ApiServer:
        settings = self._settings().api
        tokens = settings.resolved_tokens()
        sock = bind_socket("api", settings.host, settings.port)
        try:
            reader = await self._stack.enter_async_context(sql.reading(self._db))
            writer = IntakeWriter(self._db, self._settings, on_commit=self._wake, **self._clock_kw)
            self._stack.push_async_callback(writer.close)
            ctx = ApiContext(
                db=self._db,
                reader=reader,
                writer=writer,
                settings=self._settings,
                policy=self._policy,
                wake=self._wake,
                ami_connected=self._ami_connected,
                live=self._live,
                result_recorded=self._result_recorded,
                tokens={name: token.encode("latin-1") for name, token in tokens.items()},
                **self._clock_kw,
            )
            config = uvicorn.Config(
                create_app(ctx),
                lifespan="off",
                log_config=None,
                access_log=False,  # the Guard logs each request with the token's name
                server_header=False,
                proxy_headers=False,  # clients connect directly; no proxy is trusted
                timeout_graceful_shutdown=STOP_TIMEOUT_S,
            )
            self._server = QuietServer(config)
            self.port = sock.getsockname()[1]
            self._task = await start_serving(self._server, sock, "api")
        except BaseException:
            sock.close()
            await self._stop()
            await self._stack.aclose()
            raise
        log.info(
            "api_started",
            url=f"http://{settings.host}:{self.port}",
            tokens=sorted(tokens),  # the names only
            require_token=settings.require_token,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._stop()
        finally:
            await self._stack.aclose()
        log.info("api_stopped")

    async def _stop(self) -> None:
        await stop_serving(self._server, self._task)
        self._task = None


async def start_serving(
    server: uvicorn.Server, sock: socket.socket, name: str
) -> asyncio.Task[None]:
    """Serve ``sock`` in a task; return once uvicorn is taking requests (or raise what
    stopped it)."""
    task = asyncio.create_task(server.serve(sockets=[sock]), name=name)
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError(f"the {name} server stopped while starting")
        await asyncio.sleep(0.01)
    return task


async def stop_serving(server: uvicorn.Server | None, task: asyncio.Task[None] | None) -> None:
    """Stop taking requests, give the open ones ``STOP_TIMEOUT_S`` to finish, then cancel."""
    if server is not None:
        server.should_exit = True
    if task is not None:
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S + 5):
                await task
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def bind_socket(section: str, host: str, port: int) -> socket.socket:
    """Listen on host:port; ``InUse`` when taken (may free up), ``ConfigError`` when impossible."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError([f"{section}.host: cannot resolve {host!r}: {exc.strerror}"]) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        problem = f"{section}: cannot listen on {host}:{port}: {exc.strerror}"
        if exc.errno == errno.EADDRINUSE:  # another process has it now: may be gone soon
            raise InUse(problem) from None
        raise ConfigError([problem]) from None  # no such address, or a privileged port
    return sock
