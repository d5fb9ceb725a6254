"""Helpers of the browser tests: a throwaway JupyterLab server and a few page actions.

The server runs on 127.0.0.1 with a random free port, a random token and a temporary root that
holds copies of the notebooks (parameters switched to quick mode and an out_dir inside the root).
Its settings, workspaces and runtime files live in the temporary folder too, so the tests never
see or touch the user's JupyterLab state.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

CHROMIUM = Path(os.environ.get("BDGF_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# User settings of the throwaway lab: every cell stays in the DOM (no virtual scrolling), no news
# or update checks (nothing outside 127.0.0.1 is asked for).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quick_copy(source: Path, target: Path, out_dir: Path, extra_cells: list[str] | None = None) -> Path:
    """Copy a notebook, appending `quick = True` and `out_dir = ...` to its `parameters` cell
    (what papermill would inject), plus optional code cells at the end."""
    nb = nbformat.read(source, as_version=4)
    tagged = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    assert tagged, f"{source.name}: no cell tagged 'parameters'"
    tagged[0].source = (
        tagged[0].source.rstrip("\n") + f"\nquick = True  # browser test\nout_dir = {str(out_dir)!r}  # browser test\n"
    )
    for code in extra_cells or []:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    nbformat.write(nb, target)
    return target


@dataclass
class LabServer:
    root: Path
    work: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab", query: str = "") -> str:
        return f"{self.base}/{path}?{query + '&' if query else ''}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.base}/api/{path}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shutdown_sessions(self) -> None:
        """End every notebook session and its kernel (frees the memory of the last notebook)."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def start(self, timeout: float = 90.0) -> None:
        settings = self.work / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.work / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.work / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.work / "workspaces"),
            "JUPYTER_DATA_DIR": str(self.work / "data"),
            "IPYTHONDIR": str(self.work / "ipython"),
        }
        # What a person gets: plotly picks its renderer itself, as in a user's JupyterLab.
        env.pop("PLOTLY_RENDERER", None)
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
        ]  # fmt: skip
        if os.geteuid() == 0:  # CI containers run as root
            cmd.append("--allow-root")
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {self.process.returncode}; log: {self.log_path}\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"jupyter lab did not answer within {timeout:.0f} s; log: {self.log_path}\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server and its kernels (its whole process group), politely first."""
        if self.process is not None and self.process.poll() is None:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                    if sig == signal.SIGINT:  # jupyter asks for confirmation on the first ^C
                        time.sleep(0.2)
                        os.killpg(self.process.pid, sig)
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
                except ProcessLookupError:
                    break
        if getattr(self, "log", None) is not None:
            self.log.close()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def contents(self, path: str) -> dict[str, Any]:
        """The notebook as the server has it on disk (REST contents API)."""
        with urllib.request.urlopen(
            f"{self.base}/api/contents/{path}?content=1&token={self.token}", timeout=30
        ) as reply:
            return dict(json.loads(reply.read())["content"])


def copy_notebooks(names: list[Path], root: Path, out_dir: Path) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    return [quick_copy(p, root / p.name, out_dir) for p in names]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- page actions (Playwright)

# the notebook in the visible main-area tab (other tabs stay in the DOM, hidden)
CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"
PROMPTS_JS = f"""() => Array.from(document.querySelectorAll('{CURRENT} .jp-Notebook .jp-CodeCell .jp-InputPrompt'))
    .map(e => e.textContent.trim())"""
KERNEL_STATUS_JS = f"""() => {{ const e = document.querySelector('{CURRENT} .jp-Notebook-ExecutionIndicator');
    return e ? e.getAttribute('data-status') : null; }}"""


def open_notebook(page: Any, lab: LabServer, name: str, timeout_ms: int = 120_000) -> None:
    """Open a notebook of the lab root alone (earlier notebooks' sessions ended, workspace reset);
    wait until all its code cells are shown and its kernel is connected (websocket open) and idle."""
    lab.shutdown_sessions()
    n_code = sum(c.cell_type == "code" for c in nbformat.read(lab.root / name, as_version=4).cells)
    with page.expect_websocket(lambda ws: "/api/kernels/" in ws.url, timeout=timeout_ms):
        page.goto(lab.url(f"lab/tree/{name}", query="reset"))
    page.wait_for_function(f"n => ({PROMPTS_JS})().length === n", arg=n_code, timeout=timeout_ms)
    page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'idle'", timeout=timeout_ms)
    time.sleep(1.0)  # let the session settle before the first command


def run_all_cells(page: Any, timeout_ms: int) -> list[str]:
    """Run > Run All Cells from the menu bar; wait until nothing is queued or running and the
    kernel is idle. Returns the input prompts ('[3]:' ...) of the code cells."""
    for attempt in range(3):  # a menu click can land before the session is wired up: retry
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator(".lm-Menu-item:has-text('Run All Cells')").first.click()
        try:  # first the run has to begin (prompts leave '[ ]:'), then it has to end
            page.wait_for_function(f"() => ({PROMPTS_JS})().some(p => p !== '[ ]:')", timeout=20_000)
            break
        except Exception:
            if attempt == 2:
                raise AssertionError("Run > Run All Cells did not start the cells") from None
    page.wait_for_function(
        f"() => !({PROMPTS_JS})().some(p => p.includes('*')) && ({KERNEL_STATUS_JS})() === 'idle'",
        timeout=timeout_ms,
        polling=1000,
    )
    return list(page.evaluate(PROMPTS_JS))


def save_and_read(page: Any, lab: LabServer, name: str) -> dict[str, Any]:
    """File > Save (Ctrl+S) and read the saved notebook back from the server."""
    page.locator(f"{CURRENT} .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => { const t = document.querySelector('.jp-mod-current .jp-mod-dirty, "
        ".lm-TabBar-tab.jp-mod-current.jp-mod-dirty'); return !t; }",
        timeout=30_000,
    )
    time.sleep(0.5)
    return lab.contents(name)


def error_outputs(nb: dict[str, Any]) -> list[str]:
    """'cell N: Ename: value' for every error output of a saved notebook."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if out["output_type"] == "error":
                found.append(f"cell {i}: {out['ename']}: {out['evalue']}")
    return found


def plotly_output_count(nb: dict[str, Any]) -> int:
    return sum(
        "application/vnd.plotly.v1+json" in out.get("data", {})
        for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell.get("outputs", [])
    )  # fmt: skip


def shot(target: Any, path: Path) -> Path:
    """Screenshot of a page or a locator (scrolled into view first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(target, "scroll_into_view_if_needed"):
        target.scroll_into_view_if_needed()
    target.screenshot(path=str(path))
    return path
