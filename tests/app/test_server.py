"""`python -m app` as a process: the editor with logins and the evaluation pages on one port."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest
from gradio_client import Client

from app.auth import add_user
from tests.app.helpers import free_port


@pytest.fixture
def running_app(tmp_path):
    auth = tmp_path / "users.auth"
    add_user(auth, "alice", "pw-alice")
    port = free_port()
    command = [sys.executable, "-m", "app", "--fake-engine", "--port", str(port), "--auth-file", str(auth),
               "--data-dir", str(tmp_path), "--database-url", f"sqlite:///{tmp_path / 'stories.db'}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    yield url, tmp_path
    process.terminate()
    process.wait(timeout=20)
    (tmp_path / "server.log").write_text(process.stdout.read() if process.stdout else "")


def test_the_server_needs_a_login_and_serves_the_evaluation_pages(running_app):
    url, data = running_app
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("alice", "nope"), verbose=False)
    client = Client(url, auth=("alice", "pw-alice"), verbose=False)
    story = client.predict("Ann drove home.", api_name="/new_story")
    assert "Then the car" in client.predict(story, "car", api_name="/write_next")
    assert urllib.request.urlopen(f"{url}eval/", timeout=10).status == 200
    assert (data / "eval-secret").stat().st_mode & 0o777 == 0o600
    for probe in ("healthz", "readyz"):  # no login needed: load balancers and scripts poll them
        with urllib.request.urlopen(f"{url}{probe}", timeout=10) as answer:
            assert answer.status == 200 and b'"status"' in answer.read()


def test_ten_wrong_passwords_lock_the_name_even_for_the_right_one(running_app):
    """Against the real process: slowed, then HTTP 429 that says why, and the lockout is logged."""
    import json
    import urllib.error
    import urllib.parse

    url, data = running_app

    def attempt(password: str) -> tuple[int, str]:
        body = urllib.parse.urlencode({"username": "alice", "password": password}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(f"{url}login", data=body), timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    started = time.monotonic()
    codes = [attempt("wrong")[0] for _ in range(10)]
    assert codes == [400] * 10 and time.monotonic() - started > 5  # the later failures were slowed
    code, body = attempt("pw-alice")
    assert code == 429 and "logins are refused for" in json.loads(body)["detail"]
    assert attempt("pw-alice")[0] == 429  # still locked a moment later
