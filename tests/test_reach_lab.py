"""``make lab`` for real (issue 18, item 2): a headless Jupyter server with the jupytext contents
manager opens a chapter's ``.md`` as a notebook through the contents API, and the chapter runs
on one of the server's kernels at the smoke budget.

Skipped when the ``[lab]`` extra (jupyter_server, jupytext, websocket-client) is not installed:
``make lab`` or ``pip install -e ".[lab]"`` installs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

for _module in ("jupyter_server", "jupytext"):
    if importlib.util.find_spec(_module) is None:  # not imported here: the server imports it
        pytest.skip(f"{_module} is not installed: the [lab] extra (make lab)",
                    allow_module_level=True)
websocket = pytest.importorskip("websocket", reason="websocket-client (a jupyter_server "
                                "dependency) is not installed")

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "book/intro.md"
"""A short notebook page (seconds at the smoke budget): the book's introduction."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, tmp: Path) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = dict(os.environ, LOGEL_BUDGET="smoke", OMP_NUM_THREADS="1",
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_DATA_DIR=str(tmp / "data"),
                   JUPYTER_CONFIG_DIR=str(tmp / "config"))
        self.log = open(tmp / "server.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={self.port}",
             "--ip=127.0.0.1", f"--ServerApp.root_dir={ROOT}",
             f"--IdentityProvider.token={self.token}", "--ServerApp.port_retries=0",
             # only the jupytext extension (its contents manager) is needed: faster start
             *(f"--ServerApp.jpserver_extensions={ext}=False"
               for ext in ("jupyterlab", "jupyter_lsp", "notebook_shim", "notebook")),
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                self.request("GET", "/api/status")
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"jupyter server did not start:\n{(tmp / 'server.log').read_text()}")

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else {}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _execute(ws: websocket.WebSocket, session: str, code: str, timeout: float) -> dict:
    """Send one execute_request on the kernel's channels; return its reply (errors kept)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": session,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    deadline = time.monotonic() + timeout
    errors = []
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            errors.append("\n".join(msg["content"]["traceback"]))
        if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
            return {**msg["content"], "errors": errors}
    raise TimeoutError(f"no reply within {timeout} s to:\n{code[:200]}")


def test_a_chapter_opens_as_a_notebook_and_runs_on_the_servers_kernel(tmp_path):
    server = _Server(tmp_path)
    try:
        # The .md opens as a notebook: the jupytext contents manager is active.
        model = server.request("GET", f"/api/contents/{CHAPTER}?type=notebook&content=1")
        assert model["type"] == "notebook" and model["format"] == "json"
        cells = [c for c in model["content"]["cells"] if c["cell_type"] == "code"]
        assert cells, "the chapter opened without its code cells"
        source = (ROOT / CHAPTER).read_text(encoding="utf-8")
        assert all(("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
                   .strip() in source for c in cells)

        # Run it on a kernel of the server, in the chapter's folder, at the smoke budget.
        kernel = server.request("POST", "/api/kernels", {"name": "python3"})
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/api/kernels/{kernel['id']}/channels"
            f"?token={server.token}", timeout=120)
        try:
            session = uuid.uuid4().hex
            cwd = (ROOT / CHAPTER).parent.as_posix()
            setup = _execute(ws, session, f"import os; os.chdir({cwd!r}); "
                             "assert os.environ['LOGEL_BUDGET'] == 'smoke'", 60)
            assert setup["status"] == "ok", setup["errors"]
            for cell in cells:
                code = cell["source"] if isinstance(cell["source"], str) else "".join(
                    cell["source"])
                reply = _execute(ws, session, code, 120)
                assert reply["status"] == "ok", "\n".join(reply["errors"]) or code
        finally:
            ws.close()
            server.request("DELETE", f"/api/kernels/{kernel['id']}")
    finally:
        server.stop()
