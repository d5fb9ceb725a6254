"""Fixtures of the browser tests (`make test-browser`): JupyterLab server, Chromium, output folder.

Screenshots of every step go to $BDGF_BROWSER_OUT (default: outputs/browser/ in the repository),
emptied at the start of a session; the lab server log lands there too.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jlab import CHROMIUM, CHROMIUM_ARGS, LabServer, quick_copy

from bdgf_nb.cli.run import NOTEBOOK_DIR, RunConfig, run_dataset
from bdgf_nb.pipeline.parameters import RunParameters

REPO = Path(__file__).resolve().parents[2]


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> None:
    if call.when == "call" and call.excinfo is not None:
        item.stash[FAILED] = True


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def browser_out() -> Path:
    out = Path(os.environ.get("BDGF_BROWSER_OUT", REPO / "outputs" / "browser")).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(f"\n[browser] screenshots and logs: {out}")
    return out


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab-root")


@pytest.fixture(scope="session")
def executed(lab_root: Path) -> Path:
    """`bdgf-run --quick --notebooks 00,01` (papermill) into <lab root>/out, once per session.

    The lab's notebook copies use the same out_dir, so in the browser notebook 01 (and 04)
    reload the DDPM checkpoints and feature caches trained here instead of training them again:
    every cell still runs, the browser part just does not pay for the training twice."""
    out = lab_root / "out"
    start = time.perf_counter()
    run_dataset(RunConfig(RunParameters(dataset="synthetic", quick=True), out=out, notebooks="00,01"))
    print(f"\n[browser] bdgf-run 00,01 (quick) in {time.perf_counter() - start:.0f} s")
    return out


@pytest.fixture(scope="session")
def lab(
    tmp_path_factory: pytest.TempPathFactory, lab_root: Path, executed: Path, browser_out: Path
) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1 (random port, token) over a temporary root with quick copies of
    the notebooks (out_dir: the `executed` run's folder); stopped at the end of the session,
    also when a test failed."""
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        quick_copy(path, lab_root / path.name, executed)
    server = LabServer(root=lab_root, work=tmp_path_factory.mktemp("lab-work"), log_path=browser_out / "jupyterlab.log")
    start = time.perf_counter()
    server.start()
    print(f"\n[browser] jupyter lab on {server.base} (root {lab_root}) up in {time.perf_counter() - start:.1f} s")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: `make test-browser` installs Debian's chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[browser]'")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, browser_out: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; on failure its last state is saved as FAILED_<test>.png."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    pg = context.new_page()
    console: list[str] = []
    pg.on(
        "console", lambda msg: console.append(f"{msg.type}: {msg.text}") if msg.type in ("error", "warning") else None
    )
    try:
        yield pg
    finally:
        name = request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
        if request.node.stash.get(FAILED, False):
            try:
                pg.screenshot(path=str(browser_out / f"FAILED_{name}.png"))
            except Exception as err:  # best effort: the test failure is what matters
                print(f"[browser] no failure screenshot: {err}")
        if console:
            (browser_out / f"console_{name}.log").write_text("\n".join(console))
        context.close()
