"""End to end in a real browser: `streamlit run app.py` on a free port, headless Chromium logs in and
saves screenshots of the Alerts board, the facility map, a profile and the Feeds page into
test-screenshots/. Skipped when Chromium or its driver is absent (`.ci/run` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from monitor.classify.model import PACKAGED_MODEL
from monitor.store.db import session_scope
from monitor.store.schema import Alert
from monitor.users import create_user
from tests.conftest import REPO_ROOT, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# The flags this machine needs: no sandbox as root, no GPU, and no background calls to Google's hosts,
# which the closed network refuses.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1300",
                  # The map is WebGL: with no GPU, Chromium draws it in software only when allowed to.
                  "--enable-unsafe-swiftshader")
SCREENSHOT_DIR = Path(os.environ.get("MONITOR_TEST_SCREENSHOT_DIR", REPO_ROOT / "test-screenshots"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromedriver are not installed"),
    pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/"),
]


@pytest.fixture
def dashboard(run_cli, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("one browser run is enough; the pages' queries run on PostgreSQL in test_dashboard.py")
    sqlite_url = database_url
    run_cli("init")
    run_cli("demo")
    from monitor.store.db import make_engine

    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        create_user(session, "amina", "analyst", "browser-test-password", actor="test")
    with Session(engine) as session:
        alerts = len(session.exec(select(Alert)).all())
    engine.dispose()
    port = free_port()
    env = dict(os.environ, MONITOR_DATABASE_URL=sqlite_url)
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            pytest.fail(f"streamlit exited: {(tmp_path / 'streamlit.log').read_text()}")
        time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("streamlit did not answer within 60 s")
    try:
        yield url, alerts
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(browser, name: str) -> Path:
    from PIL import Image

    time.sleep(1.5)  # let canvases (tables, charts, the map) paint before the picture is taken
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOT_DIR / f"{name}.png"
    assert browser.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.size[0] >= 1200 and image.size[1] >= 900
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50, f"the {name} screenshot is blank"
    return shot


def _body(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.TAG_NAME, "body").text


def _go_to(browser, wait, page: str) -> None:
    from selenium.webdriver.common.by import By

    sidebar = browser.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"]')
    next(label for label in sidebar.find_elements(By.TAG_NAME, "label") if label.text.strip() == page).click()
    wait.until(lambda d: any(h.text.strip() == page for h in d.find_elements(By.TAG_NAME, "h2")))


def test_log_in_and_screenshot_board_map_profile_and_feeds(dashboard, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    url, alert_count = dashboard
    from selenium.common.exceptions import StaleElementReferenceException

    # Streamlit re-renders the page while we look at it: an element read mid-rerun goes stale, so look again.
    wait = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(url)
    name = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, 'input[aria-label="User name"]')))
    assert "Alerts" not in _body(browser)  # nothing before login
    name.send_keys("amina")
    browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys("browser-test-password")
    next(b for b in browser.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Log in").click()

    # The Alerts page opens on the situation board.
    wait.until(lambda d: any(h.text.strip() == "Alerts" for h in d.find_elements(By.TAG_NAME, "h2")))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]'))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"] canvas, '
                                                          '[data-testid="stVegaLiteChart"] svg'))
    body = _body(browser)
    assert "Logged in as amina (analyst)" in body
    assert "Situation" in body and "New critical and high alerts" in body and "CRITICAL" in body
    _screenshot(browser, "alerts-board")

    # A card's button opens that alert below the table.
    opener = next(b for b in browser.find_elements(By.TAG_NAME, "button") if b.text.startswith("Open alert #"))
    opened = opener.text.removeprefix("Open alert ")
    opener.click()
    wait.until(lambda d: f"Alert {opened}:" in _body(d) and "Audit trail" in _body(d))
    assert "Why this severity" in _body(browser) and "Confirm" in _body(browser)
    heading = next(h for h in browser.find_elements(By.TAG_NAME, "h3") if h.text.startswith(f"Alert {opened}:"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", heading)
    _screenshot(browser, "alert-detail")

    _go_to(browser, wait, "Facilities")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});",
                           browser.find_element(By.TAG_NAME, "h2"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stDeckGlJsonChart"] canvas'))
    assert "Natural Earth" in _body(browser)
    _screenshot(browser, "facility-map")

    profile = next(h for h in browser.find_elements(By.TAG_NAME, "h3") if h.text.strip())
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", profile)
    assert "Risk trend" in _body(browser) and "Signals" in _body(browser)
    _screenshot(browser, "facility-profile")

    _go_to(browser, wait, "Feeds")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]'))
    _screenshot(browser, "feeds-page")

    # Everything the pages loaded came from the dashboard itself: no tile server, no fonts, no CDN.
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    outside = [r for r in resources if not r.startswith((url, "data:", "blob:"))]
    assert not outside, f"the dashboard reached outside: {outside[:5]}"
    assert alert_count > 0
