"""The live firewall view in a real browser, on a real sidecar, while a real request flows.

``masker run`` (reverse mode, real engine: shipped policy, regex + NER) with
``--admin-listen`` and ``MASKER_ADMIN_TOKEN``; Debian's ``chromium`` driven
by Selenium through ``chromedriver`` (``make test`` installs both). The
operator logs in on the page, the official OpenAI SDK sends a chart note
through the proxy, and within a second the page shows the token on the
public side, the value on the regulated side, and the detection chip.
Then the sessions API: the journal's events and a signed report.

With ``MASKER_LIVE_SCREENSHOT=PATH`` the test also saves the page as a PNG
(``docs/live-view.png`` in the README is made that way, synthetic values only).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import rfc8785
from nacl.signing import SigningKey
from openai import OpenAI

from masker.admin.auth import COOKIE as VIEW_COOKIE
from tests.e2e.phi import CHART, values_in
from tests.e2e.sidecar import KEYS, Sidecar, start_admin_sidecar

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ADMIN_TOKEN = secrets.token_urlsafe(24)
SESSION = "live-view-e2e-1"
API_SESSION = "live-view-e2e-2"  # the sessions API test sends its own turn: it holds without the browser test
AGENT = "triage-bot"
SHOW_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def live_sidecar(tmp_path_factory, upstream, upstream_certs) -> Iterator[tuple[Sidecar, str]]:
    with start_admin_sidecar(tmp_path_factory.mktemp("live-view"), upstream, upstream_certs[0], ADMIN_TOKEN) as (sc, admin_port):
        yield sc, f"http://127.0.0.1:{admin_port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:  # never a silent skip: the view is only tested in a real browser
        pytest.fail(f"{', '.join(missing)} missing: `make test` installs Debian's chromium and chromium-driver "
                    "(or: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="masker-live-view-")  # outside the e2e temp tree; removed below
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,900", f"--user-data-dir={profile}", "--disk-cache-size=0"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _log_in(driver, admin: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{admin}/")
    assert driver.current_url.endswith("/login")  # no cookie yet: sent to the form
    driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # the form's answer sets the session cookie: opening the view before it arrives lands on /login again
    WebDriverWait(driver, 15).until(lambda d: d.get_cookie(VIEW_COOKIE) is not None)
    driver.get(f"{admin}/#session={SESSION}")
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, "phi-banner"))


def _client(sc: Sidecar, session: str) -> OpenAI:
    return OpenAI(api_key="sk-test", base_url=f"{sc.url}/proxy/{AGENT}/v1", max_retries=0, timeout=30,
                  default_headers={"X-Masker-Session": session}, http_client=httpx.Client(trust_env=False))


def _turn_shown(driver):
    """The turn element once it shows the response and a PHONE chip, else False."""
    from selenium.webdriver.common.by import By

    for turn in driver.find_elements(By.CSS_SELECTOR, "li.turn"):
        pairs = turn.find_elements(By.CSS_SELECTOR, ".pair")
        chips = turn.find_elements(By.CSS_SELECTOR, '.chip.detection[data-kind="PHONE"]')
        labels = [p.find_element(By.CSS_SELECTOR, ".label").text for p in pairs]
        if chips and any(label.startswith("response") for label in labels):
            return turn
    return False


def test_the_page_shows_both_sides_and_the_chip_within_a_second(live_sidecar, browser, upstream):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sc, admin = live_sidecar
    _log_in(browser, admin)
    banner = browser.find_element(By.ID, "phi-banner").text
    assert "shows PHI" in banner and "authenticated operator" in banner
    WebDriverWait(browser, 10).until(lambda d: "on" in d.find_element(By.ID, "conn").get_attribute("class"))

    client = _client(sc, SESSION)
    answer = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": CHART}])
    answered = time.monotonic()
    assert values_in(answer.choices[0].message.content)  # the caller got its values back
    sent = json.loads(upstream.received[-1].body)["messages"][0]["content"]
    assert not values_in(sent)  # the provider saw tokens only

    turn = WebDriverWait(browser, SHOW_WITHIN_S, poll_frequency=0.05).until(_turn_shown)
    shown_in = time.monotonic() - answered
    assert shown_in <= SHOW_WITHIN_S + 0.2
    regulated = [e.text for e in turn.find_elements(By.CSS_SELECTOR, ".side.regulated pre")]
    public = [e.text for e in turn.find_elements(By.CSS_SELECTOR, ".side.public pre")]
    assert len(regulated) == len(public) == 2  # the user's text and the response, side by side
    assert public[0] == sent  # exactly what the provider saw
    assert all("MSKV1." in text for text in public) and not any(values_in(text) for text in public)
    assert set(values_in(regulated[0])) >= {"PHONE", "MRN", "DOB"}  # rehydrated from the vault at view time
    assert set(values_in(regulated[1])) >= {"PHONE"}
    assert "MSKV1." not in regulated[0]
    tokens = turn.find_elements(By.CSS_SELECTOR, ".side.public mark.tok")
    values = turn.find_elements(By.CSS_SELECTOR, ".side.regulated mark.val")
    assert tokens and len(values) == len(tokens)
    kinds = {c.get_attribute("data-kind") for c in turn.find_elements(By.CSS_SELECTOR, ".chip.detection")}
    assert {"PHONE", "MRN"} <= kinds
    assert turn.find_elements(By.CSS_SELECTOR, '.chip.rehydrated[data-kind="PHONE"]')

    # the kind filter: a second turn with an SSN only is hidden when filtering by MRN
    from selenium.webdriver.support.ui import Select

    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "SSN 123-45-6789 on file."}])
    WebDriverWait(browser, 5).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "li.turn .chip.rehydrated")) >= 2)
    first, second = sorted(browser.find_elements(By.CSS_SELECTOR, "li.turn"), key=lambda li: int(li.get_attribute("data-id")))
    kind = Select(browser.find_element(By.ID, "filter-kind"))
    kind.select_by_value("MRN")
    assert "hidden" not in first.get_attribute("class") and "hidden" in second.get_attribute("class")
    kind.select_by_value("")
    assert "hidden" not in second.get_attribute("class")
    if os.environ.get("MASKER_LIVE_SCREENSHOT"):
        browser.save_screenshot(os.environ["MASKER_LIVE_SCREENSHOT"])


def test_sessions_api_events_and_signed_report(live_sidecar):
    sc, admin = live_sidecar
    answer = _client(sc, API_SESSION).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": CHART}])
    assert values_in(answer.choices[0].message.content)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=admin, headers=auth, timeout=30, trust_env=False) as api:
        deadline = time.monotonic() + 20
        while True:  # request_forwarded is journaled just after the response
            events = api.get(f"/api/v1/sessions/{API_SESSION}/events")
            kinds = {e["kind"] for e in events.json().get("events", [])} if events.status_code == 200 else set()
            if "request_forwarded" in kinds or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert {"detection", "request_forwarded", "rehydration"} <= kinds
        assert not values_in(events.text)
        sessions = api.get("/api/v1/sessions").json()
        [mine] = [s for s in sessions["sessions"] if s["session"] == API_SESSION]
        assert mine["live"] and mine["view"]["turns"] >= 1 and mine["journal"]["events"] >= len(kinds)
        assert AGENT in mine["journal"]["agents"] and not values_in(json.dumps(sessions))
        report = api.post(f"/api/v1/sessions/{API_SESSION}/report")
        assert httpx.Client(base_url=admin, trust_env=False).post(f"/api/v1/sessions/{API_SESSION}/report").status_code == 401
    assert report.status_code == 201
    doc = report.json()
    signing_key = SigningKey(base64.b64decode(KEYS["MASKER_SIGNING_KEY"]))
    signing_key.verify_key.verify(rfc8785.dumps(doc["report"]), base64.b64decode(doc["signature"]))
    assert (sc.data_dir / "reports" / doc["files"]["pdf"]).is_file()
    assert not values_in(report.text)
