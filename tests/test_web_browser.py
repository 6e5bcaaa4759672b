"""The desk in a real headless Chromium, served by the real uvicorn component on loopback.

What a person does: log in, open a case, look at the scanned signature, approve, and see the
answer letter appear; and a hostile mail whose text and file name carry ``<script>`` and
``javascript:`` runs nothing. Screenshots of the queue and the case page are saved under the
test's temporary folder. Without Chromium the tests skip, or fail under
``DSRBOT_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import SystemClock
from bot.policy_from_settings import org_info
from bot.settings import Settings
from bot.web.server import WebDesk
from handlers.execute import finish_decided
from storage.db import Database
from storage.models import Case, Customer, OutboundMessage
from tests import web_kit as kit
from tests.conftest import missing_service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        missing_service(f"browser tests need {CHROMIUM} and {CHROMEDRIVER} "
                        "(apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing_service("browser tests need selenium (pip install -e '.[test]')")
        raise
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


class Served:
    """The WebDesk component running in its own thread and event loop, as ``dsrbot run`` runs it."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.desk = WebDesk(settings, db)
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),),
                                       daemon=True)

    async def _main(self) -> None:
        self.stop_event = asyncio.Event()
        await self.desk.start()
        self.ready.set()
        await self.stop_event.wait()
        await self.desk.stop()

    def __enter__(self) -> str:
        self.thread.start()
        assert self.ready.wait(30), "the desk did not start"
        return f"http://127.0.0.1:{self.desk.port}"

    def __exit__(self, *exc: object) -> None:
        assert self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


@pytest.fixture
def desk_url(tmp_path: Path, sqlite_db: Database) -> Iterator[tuple[str, Settings]]:
    cfg, settings = kit.write_settings(tmp_path, sqlite_db)
    kit.add_staff(cfg, "aino", "approver")
    with Served(settings, sqlite_db) as url:
        yield url, settings


def wait_for_page(driver: Any, path_end: str) -> None:
    """A click on a submit button returns before the next page is there: wait for it."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.current_url.split("?")[0].endswith(path_end)
                                    and d.execute_script("return document.readyState")
                                    == "complete")


def log_in(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/cases")
    assert driver.current_url.endswith("/login")
    driver.find_element(By.NAME, "username").send_keys("aino")
    driver.find_element(By.NAME, "password").send_keys(kit.PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for_page(driver, "/cases")


def test_staff_check_the_scanned_signature_approve_and_see_the_letter(
        browser: Any, desk_url: tuple[str, Settings], sqlite_db: Database,
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, settings = desk_url
    case_id = kit.make_case(sqlite_db, customer_id=kit.add_customer(sqlite_db))
    log_in(browser, url)
    browser.save_screenshot(str(tmp_path / "queue.png"))
    browser.find_element(By.LINK_TEXT, case_id).click()
    wait_for_page(browser, f"/cases/{case_id}")
    assert case_id in browser.title
    image = browser.find_element(By.CSS_SELECTOR, ".preview img")
    assert browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", image) == 40
    browser.save_screenshot(str(tmp_path / "case.png"))
    browser.find_element(By.CSS_SELECTOR, f"form[action='/cases/{case_id}/approve'] button"
                         ).click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".note"))
    assert f"{case_id} approved by aino" in browser.find_element(By.CSS_SELECTOR, ".note").text
    # What the service's pipeline does next: carry out the approved case (the access report).
    finish_decided(sqlite_db, org_info(settings), clock=SystemClock())
    browser.refresh()
    letters = browser.find_element(By.CSS_SELECTOR, ".letters").text
    assert "access report" in letters and "pending" in letters
    with sqlite_db.read_session() as s:
        kinds = [m.kind for m in s.exec(select(OutboundMessage)).all()]
    assert "access_report" in kinds
    assert (tmp_path / "queue.png").stat().st_size > 0 and (tmp_path / "case.png").stat().st_size


STRANGER = "asiamies@example.net"


def test_ban_button_confirms_to_the_customers_registered_address_not_the_sender(
        browser: Any, desk_url: tuple[str, Settings], sqlite_db: Database) -> None:
    """A ban asked from an address not in the register, naming a customer: the desk's Ban does
    what the chat's tap and ``dsrbot apply-ban`` do (the named customer, a confirmation to her
    registered address, the case done)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = desk_url
    named = kit.add_customer(sqlite_db)
    raw = kit.request_mail("Asiakkaanne 104233 ei halua enää mainoksia.", subject="Kielto",
                           sender=f"Asiamies <{STRANGER}>")
    case_id = kit.make_case(sqlite_db, raw, verified=False, types=("marketing_optout",),
                            requester=STRANGER, names=[named])
    log_in(browser, url)
    browser.get(f"{url}/cases/{case_id}")
    form = browser.find_element(By.CSS_SELECTOR, f"form[action='/cases/{case_id}/ban']")
    assert "blank: the one customer the mail names" in form.text
    form.find_element(By.NAME, "note").send_keys("the mail names customer 104233")
    form.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".note"))
    assert (f"{case_id}: marketing ban set for customer 104233; confirmed to the customer's "
            "registered address") in browser.find_element(By.CSS_SELECTOR, ".note").text
    letters = browser.find_element(By.CSS_SELECTOR, ".letters").text
    assert "marketing optout" in letters and kit.REGISTERED in letters
    assert STRANGER not in letters
    with sqlite_db.read_session() as s:
        customer = s.exec(select(Customer)).one()
        sent = s.exec(select(OutboundMessage)).all()
        case = s.get(Case, case_id)
    assert customer.marketing_ban and not customer.publication_ban
    assert [(m.kind, m.recipient) for m in sent] == [("marketing_optout", kit.REGISTERED)]
    assert case is not None and case.status == "done"


HOSTILE_TEXT = (
    "Hei <script>document.title='pwned';window.__pwned=1;alert(1)</script>\n"
    "<img src=x onerror=\"window.__pwned=2\"> <a href=\"javascript:window.__pwned=3\">klik</a>\n"
    "javascript:window.__pwned=4\n")
HOSTILE_HTML = ("<html><body onload=\"window.__pwned=5\"><p>Hei</p>"
                "<script>window.__pwned=6;alert(6)</script>"
                "<a href=\"javascript:window.__pwned=7\">klik</a>"
                "<img src=\"http://127.0.0.1:9/remote.png\" onerror=\"window.__pwned=8\">"
                "</body></html>")


def test_a_mail_carrying_script_and_javascript_links_runs_nothing(
        browser: Any, desk_url: tuple[str, Settings], sqlite_db: Database) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    url, _ = desk_url
    raw = kit.request_mail(HOSTILE_TEXT, html=HOSTILE_HTML, attachments=[
        (kit.png(), "image", "png", "<script>window.__pwned=9</script>.png"),
        (b"%PDF-1.4\n", "application", "pdf", "javascript:window.__pwned=10.pdf")])
    case_id = kit.make_case(sqlite_db, raw, customer_id=kit.add_customer(sqlite_db))
    log_in(browser, url)
    browser.get(f"{url}/cases/{case_id}")
    assert browser.title == f"{case_id} · Rusttet Oy"
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    assert browser.execute_script(
        "return document.querySelectorAll('[onerror],[onload],[onclick]').length") == 0
    assert browser.execute_script(
        "return [...document.querySelectorAll('a')].filter("
        "a => a.protocol === 'javascript:').length") == 0
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text
    body = browser.find_element(By.CSS_SELECTOR, "pre.body").text
    assert "<script>document.title='pwned'" in body  # shown as text, not run
    assert "<script>window.__pwned=9</script>.png" in browser.find_element(
        By.CSS_SELECTOR, ".attachments").text


def test_queue_and_case_page_fit_a_phone_screen(
        browser: Any, desk_url: tuple[str, Settings], sqlite_db: Database,
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    url, _ = desk_url
    case_id = kit.make_case(sqlite_db, customer_id=kit.add_customer(sqlite_db))
    browser.set_window_size(390, 844)
    log_in(browser, url)
    overflow = "return document.documentElement.scrollWidth - window.innerWidth"
    assert browser.execute_script(overflow) <= 0
    browser.save_screenshot(str(tmp_path / "queue-phone.png"))
    browser.find_element(By.LINK_TEXT, case_id).click()
    wait_for_page(browser, f"/cases/{case_id}")
    assert browser.execute_script(overflow) <= 0
    browser.save_screenshot(str(tmp_path / "case-phone.png"))
