"""Helpers of the browser test (tests/test_browser.py) and of ``make screenshot``: Debian's Chromium
driven by Playwright, and a JupyterLab server on loopback with its own config and runtime folders.

Chromium comes from Debian's ``chromium`` package (installed with apt-get when missing and run as
root); Playwright's own browser download is never used. It is launched with flags that keep it off
the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = int(os.environ.get("SDAS_BROWSER_TIMEOUT_MS", 600_000))  # a whole notebook run
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
INSTALL_HINT = (
    "the browser test needs Debian's chromium and Playwright for Python: "
    "`sudo apt-get install chromium` and `.venv/bin/pip install playwright` "
    "(never `playwright install`: the browser comes from the system)"
)


def chromium_path() -> str:
    """The system Chromium, installed with apt-get when missing and run as root on Debian; else an
    error saying how to install it."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-qq"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], **quiet)
        if path := shutil.which("chromium"):
            return path
    raise RuntimeError(f"Chromium is not installed and could not be installed here; {INSTALL_HINT}")


def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        raise RuntimeError(f"Playwright for Python is missing; {INSTALL_HINT}") from None
    return start()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root_dir: Path, work: Path) -> Iterator[str]:
    """A JupyterLab server on 127.0.0.1 serving ``root_dir``, with a token and its own config, runtime
    and settings folders under ``work`` (news off); yields its base URL with the token. Always stopped."""
    token = secrets.token_hex(16)
    port = _free_port()
    settings = work / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        **os.environ, "JUPYTER_CONFIG_DIR": str(work / "config"), "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(work / "lab-settings"), "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
        "IPYTHONDIR": str(work / "ipython"), "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}", "--ServerApp.open_browser=False",
        "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=False",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(work / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; its log: {(work / 'jupyterlab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"{base}/lab/tree/{{path}}?reset&token={token}"  # reset: no tabs restored from an earlier page
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def with_parameters(notebook: Path, out: Path, **params) -> Path:
    """A copy of ``notebook`` whose ``parameters`` cell sets ``params`` (outputs stay empty)."""
    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    cell["source"] = "".join(f"{k} = {v!r}\n" for k, v in params.items())
    out.write_text(json.dumps(nb, indent=1))
    return out


def open_and_run_all(page, url: str, shot_on_failure: Path | None = None) -> None:
    """Open a notebook in JupyterLab, wait for an idle kernel (Run All before that opens a
    kernel-selection dialog), dismiss pop-ups, run every cell and wait until the kernel is idle again.
    On a failure the page is saved to ``shot_on_failure`` (a PNG) for the report."""
    try:
        _open_and_run_all(page, url)
    except Exception as err:
        if shot_on_failure is not None:
            page.screenshot(path=str(shot_on_failure), full_page=True)
            raise AssertionError(f"{err}\nthe page at the failure: {shot_on_failure}") from err
        raise


PROMPTS = (  # the input prompts of the notebook in view: "[ ]:" before a run, "[*]:" running, "[3]:" done
    "() => { const p = [...document.querySelectorAll('.jp-NotebookPanel')].find(e => e.offsetParent);"
    " return p ? [...p.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent) : []; }"
)


def _open_and_run_all(page, url: str) -> None:
    import re

    page.goto(url)
    panel = page.locator(".jp-NotebookPanel:visible")  # the notebook's tab (the only one: ?reset)
    panel.locator(".jp-Notebook").wait_for(timeout=120_000)
    indicator = panel.locator(".jp-Notebook-ExecutionIndicator")
    indicator.and_(page.locator("[data-status='idle']")).wait_for(timeout=120_000)
    page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\|\s*Idle")).first.wait_for(timeout=120_000)
    dismiss_popups(page)
    # A Run All sent while the kernel's connection is still being set up can be dropped: the cells
    # stay "[ ]". Send it again until a cell starts (at most three times).
    for attempt in range(3):
        panel.locator(".jp-NotebookPanel-toolbar").click()  # focus the notebook's panel
        page.locator("#jp-menu-panel").get_by_text("Run", exact=True).first.click()  # the Run menu of the menu bar
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(f"() => ({PROMPTS})().some(t => /\\[(\\*|\\d+)\\]/.test(t))", timeout=20_000)
            break
        except Exception:
            if attempt == 2:
                raise
    # every code cell gets an execution count when it has run: wait for the last one, then for idle
    page.wait_for_function(f"() => {{ const t = ({PROMPTS})(); return t.length && /\\[\\d+\\]/.test(t[t.length - 1]); }}",
                           timeout=TIMEOUT)
    indicator.and_(page.locator("[data-status='idle']")).wait_for(timeout=TIMEOUT)


def dismiss_popups(page) -> None:
    for label in ("No", "Dismiss", "Close"):
        button = page.locator(f".jp-Notification-Toast button:has-text('{label}')")
        if button.count():
            button.first.click()


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
