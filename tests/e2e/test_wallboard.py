"""The wallboard as a supervisor sees it: headless Chromium renders the live page, we look at it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.helpers import post_json, wait_for_ticket

pytestmark = pytest.mark.e2e
SCREENSHOT = Path(".run/screenshots/wallboard.png")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Debian's chromium is required (make test installs it)"
    return path


def _render(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=4000",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )


@pytest.mark.timeout(180)
async def test_wallboard_renders_live_data(stack_env: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as session:
        status, data = await post_json(
            session,
            f"{stack_env['INTAKE_URL']}/v1/inbound/chat",
            stack_env["INTAKE_TOKEN"],
            {
                "session_id": f"wall-{uuid.uuid4().hex[:8]}",
                "text": "my account is locked, I cannot pay",
            },
        )
        assert status == 202
        await wait_for_ticket(
            session, stack_env["ROUTER_URL"], stack_env["AGENT_TOKEN"], data["message_id"]
        )

    dom = _render(f"{stack_env['SLA_URL']}/", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "floor wallboard" in html
    # The script ran and filled the tiles and the queue table from /v1/sla/wallboard.
    assert 'id="open">–<' not in html and "loading…" not in html
    assert '<span id="stale"></span>' in html, "the page could not fetch its data"
    assert "<td>account</td>" in html or "<td>security</td>" in html

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot = _render(
        f"{stack_env['SLA_URL']}/", f"--screenshot={SCREENSHOT.resolve()}", "--window-size=1400,900"
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert SCREENSHOT.stat().st_size > 10_000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
