"""The local cloud stops cleanly: no process, thread or port left behind (runs last: see below)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from localcloud.cloud import LocalCloud

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def port_open(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) == 0


def test_stop_leaves_no_threads_processes_or_ports(local_cloud: LocalCloud) -> None:
    # the shared cloud: this module's name sorts last in the package, so it goes after the others
    # (stop() is idempotent: the fixture's own stop afterwards does nothing)
    threads = [t for t in threading.enumerate() if t is not threading.main_thread()]
    ours = [t for t in threads if t.name.startswith(("sqs:", "schedule:", "http-front", "lambda"))]
    children = multiprocessing.active_children()
    urls = [local_cloud.url, local_cloud.moto_url]
    assert ours
    assert children

    local_cloud.stop()

    assert not any(child.is_alive() for child in children)
    assert not any(thread.is_alive() for thread in threads if thread.name != "pytest_timeout")
    assert not any(port_open(url) for url in urls)


@pytest.mark.parametrize(
    ("sig", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c-to-the-terminal-group", "sigterm-to-the-process"],
)
def test_local_up_serves_until_a_signal_then_exits_cleanly(
    tmp_path: Path, sig: int, to_group: bool
) -> None:
    environment = {
        **os.environ,
        "LOANFLOW_LOCAL_HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / part) for part in ("cli", "infra/local", "layers/common/python", "ml")
        ),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "loanflow_cli.main", "local", "up", "--port", "0"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: survivors would show up in it
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("ready http://127.0.0.1:"), line
        url = line.removeprefix("ready ")
        assert requests.get(f"{url}/openapi.json", timeout=30).status_code == 200

        if to_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    deadline = time.monotonic() + 5
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break  # nothing of the group is left
        assert time.monotonic() < deadline, "processes of `local up` outlived it"
        time.sleep(0.1)
    assert not port_open(url)
