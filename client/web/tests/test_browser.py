"""test_browser.py — the app in real Chromium (Debian's chromium and
chromium-driver, driven by selenium): alice and bob in two browsers of their
own. Alice asks the demo model for a hello world script, sees it appear in
the tree, opens it (numbered lines), edits it, uploads a file by the file
picker and one by dropping it on the page, sees the run's output in the live pane,
plots a sine wave and sees the picture, types in the terminal, reloads the
page and is back in the same shell; when she leaves the page its terminal is
closed. Wrong passwords for one name get the sign-in page's "try again in"
(429); bob sees none of alice's work by clicking, by guessing URLs and ids,
or over a WebSocket.
Each step's screenshot is saved; their paths are printed at the end.

Every wait is WebDriverWait on a condition (no fixed sleeps).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import (StaleElementReferenceException,  # noqa: E402
                                        WebDriverException)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import PASSWORDS, make_web  # noqa: E402

WAIT_S = 90
CHROMIUM = os.environ.get("SBXWEB_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("SBXWEB_CHROMEDRIVER", "/usr/bin/chromedriver")


def browser(profile: str) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1500,1000", f"--user-data-dir={profile}", "--no-first-run"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


@pytest.fixture(scope="module")
def web_ui(sbxd, tmp_path_factory):
    """An app of its own (sbx users "webui-NAME"): alice's workspace starts empty.
    Its terminal grace (10 s) leaves a loaded machine's Chromium time to reload."""
    w = make_web(sbxd, tmp_path_factory.mktemp("web-ui"), "webui-", SBXWEB_TERMINAL_GRACE_S="10")
    yield w
    w.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = Path(os.environ.get("SBXWEB_SHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    saved: list[str] = []

    def shot(driver, name: str) -> None:
        p = d / f"{len(saved) + 1:02d}-{name}.png"
        driver.save_screenshot(str(p))
        saved.append(str(p))
    yield shot
    print("\nscreenshots:\n  " + "\n  ".join(saved))


@pytest.fixture(scope="module")
def browsers():
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.skip("chromium and chromium-driver are not installed (deploy/deps.sh)")
    made, dirs = [], []

    def make() -> webdriver.Chrome:
        dirs.append(tempfile.mkdtemp(prefix="sbxweb-chrome-"))
        made.append(browser(dirs[-1]))
        return made[-1]
    yield make
    for b in made:
        b.quit()
    for d in dirs:
        if d.startswith(tempfile.gettempdir() + "/sbxweb-chrome-"):
            shutil.rmtree(d, ignore_errors=True)


def wait(driver, cond, what: str):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(
        lambda d: cond(d), message=f"waiting for {what}")


def sign_in_as(driver, web, name: str, password: str) -> None:
    """Submits the sign-in form; returns once the next page has loaded."""
    driver.get(web.url + "/login")
    form = driver.find_element(By.ID, "login-form")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()
    wait(driver, lambda d: _gone(form), "the answer to the sign-in")


def _gone(element) -> bool:
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        # mid-navigation chromedriver may say the old page's node "does not
        # belong to the document" (an inspector error) rather than stale
        if "does not belong to the document" in str(e):
            return True
        raise


def sign_in(driver, web, name: str) -> None:
    sign_in_as(driver, web, name, PASSWORDS[name])
    wait(driver, lambda d: d.find_elements(By.ID, "who"), f"{name} signed in")


def new_session(driver, title: str) -> str:
    driver.find_element(By.ID, "title").send_keys(title)
    driver.find_element(By.ID, "create-session").click()
    app = wait(driver, lambda d: d.find_elements(By.ID, "app"), "the session page")[0]
    wait(driver, lambda d: d.find_element(By.ID, "ws-state").text == "live", "the live pane")
    return app.get_attribute("data-sid")


def tree_names(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#tree li')].map(li => li.textContent)")


def open_in_tree(driver, name: str) -> None:
    """Clicks `name` in the tree (which the page may be redrawing meanwhile)."""
    def click(d) -> bool:
        try:
            for li in d.find_elements(By.CSS_SELECTOR, "#tree li"):
                if li.text == name:
                    li.click()
                    return True
        except StaleElementReferenceException:
            pass
        return False
    wait(driver, click, f"{name} clicked in the tree")
    wait(driver, lambda d: d.find_element(By.ID, "view-path").text == name, f"{name} open")


def ask(driver, text: str) -> None:
    driver.find_element(By.ID, "chat-input").send_keys(text)
    driver.find_element(By.ID, "send").click()


def chat_done(driver) -> bool:
    return driver.find_element(By.ID, "send").is_enabled()


def log_text(driver) -> str:
    return driver.find_element(By.ID, "log").text


def test_two_users_in_chromium(web_ui, sbxd, browsers, shots, tmp_path):
    a = browsers()
    sign_in(a, web_ui, "alice")
    shots(a, "alice-home")
    sid = new_session(a, "alice in chromium")
    assert "demo model" in a.find_element(By.ID, "model-label").text
    shots(a, "alice-session")

    wait(a, lambda d: d.find_element(By.ID, "tree").get_attribute("data-loaded"), "the tree")
    assert tree_names(a) == []                        # a fresh workspace
    ask(a, "create a hello world script and run it")
    wait(a, lambda d: "hello.py" in tree_names(d), "hello.py in the tree")
    wait(a, lambda d: "Hello, world!" in log_text(d), "the run's output in the live pane")
    wait(a, chat_done, "the chat turn to end")
    chat = a.find_element(By.ID, "chat-log").text
    assert "write_file" in chat and "execute" in chat and "Hello, world!" in chat
    shots(a, "alice-hello-chat-and-log")

    open_in_tree(a, "hello.py")
    rows = a.find_elements(By.CSS_SELECTOR, "#view-text tr")
    assert [r.text for r in rows][0] == '1 print("Hello, world!")'
    stdout = [s.text for s in a.find_elements(By.CSS_SELECTOR, "#log span.stdout")]
    assert "Hello, world!" in stdout
    shots(a, "alice-hello-open")

    # edit and save
    a.find_element(By.ID, "edit").click()
    editor = a.find_element(By.ID, "editor")
    editor.send_keys("\nprint('edited in the browser')")
    a.find_element(By.ID, "save").click()
    wait(a, lambda d: "edited in the browser" in d.find_element(By.ID, "view-text").text,
         "the saved file shown again")
    # upload a file whose name is HTML: shown as text, never as markup
    evil = "<img src=x onerror=alert(1)>.txt"
    local = tmp_path / evil
    local.write_text("uploaded\n")
    a.find_element(By.ID, "upload-input").send_keys(str(local))
    wait(a, lambda d: evil in tree_names(d), "the uploaded file in the tree")
    assert not a.find_elements(By.CSS_SELECTOR, "#tree img")
    open_in_tree(a, evil)
    assert a.find_element(By.ID, "view-text").text == "1 uploaded"
    # drag and drop: WebDriver cannot drag a file from the desktop, so the page
    # gets the DragEvents a desktop drop makes, carrying a real File
    a.execute_script(
        "const dt = new DataTransfer();"
        "dt.items.add(new File(['dropped\\n'], 'dropped.txt', {type: 'text/plain'}));"
        "const z = document.getElementById('drop');"
        "for (const t of ['dragover', 'drop'])"
        "  z.dispatchEvent(new DragEvent(t, {dataTransfer: dt, bubbles: true, cancelable: true}));")
    wait(a, lambda d: "dropped.txt" in tree_names(d), "the dropped file in the tree")
    wait(a, lambda d: "uploaded" in d.find_element(By.ID, "upload-msg").text,
         "the drop's upload reported")
    assert "over" not in a.find_element(By.ID, "drop").get_attribute("class")
    open_in_tree(a, "dropped.txt")
    assert a.find_element(By.ID, "view-text").text == "1 dropped"
    shots(a, "alice-edit-upload")

    ask(a, "plot a sine wave")
    wait(a, lambda d: "sine.png" in tree_names(d), "sine.png in the tree")
    wait(a, chat_done, "the chat turn to end")
    open_in_tree(a, "sine.png")
    wait(a, lambda d: d.execute_script(
        "const i = document.getElementById('view-image');"
        "return !i.classList.contains('hidden') && i.complete && i.naturalWidth > 0"),
        "the sine wave shown as a picture")
    shots(a, "alice-sine")

    a.find_element(By.ID, "term-open").click()
    wait(a, lambda d: d.find_element(By.ID, "terminal").get_attribute("data-id"), "a terminal")
    wait(a, lambda d: d.execute_script("return Terminal.focus !== null"), "the terminal focused")
    ActionChains(a).send_keys("echo $((6*7))x\n").perform()
    wait(a, lambda d: "42x" in d.find_element(By.ID, "terminal").text, "the terminal's answer")
    shots(a, "alice-terminal")

    # a reload reattaches to the same shell (the tab remembers its terminal; the
    # server waits terminal_grace_s before closing one no page holds)
    tid = a.find_element(By.ID, "terminal").get_attribute("data-id")
    ActionChains(a).send_keys("MARK=reload$((6*7))\n").perform()
    wait(a, lambda d: "MARK=reload$((6*7))" in d.find_element(By.ID, "terminal").text,
         "the shell to take the line")
    a.refresh()
    wait(a, lambda d: d.find_element(By.ID, "terminal").get_attribute("data-id") == tid,
         "the same terminal after the reload")
    a.find_element(By.CSS_SELECTOR, "#terminal .terminal").click()
    wait(a, lambda d: d.execute_script("return Terminal.focus !== null"), "the terminal focused")
    ActionChains(a).send_keys("echo $MARK-kept\n").perform()
    wait(a, lambda d: "reload42-kept" in d.find_element(By.ID, "terminal").text,
         "the shell's variable after the reload")
    shots(a, "alice-terminal-after-reload")
    # alice leaves the page: no page holds the terminal any more (checked at the end)
    a.get(web_ui.url + "/")

    # ---- bob, in a browser of his own
    b = browsers()
    # wrong passwords for one name: the sign-in page says to wait (429)
    for _ in range(5):
        sign_in_as(b, web_ui, "mallory", "not-a-password")
        assert "Wrong user name or password" in b.find_element(By.ID, "login-error").text
    sign_in_as(b, web_ui, "mallory", "not-a-password")
    msg = b.find_element(By.ID, "login-error").text
    assert msg.startswith("Too many failed sign-ins for this user name: try again in "), msg
    shots(b, "sign-in-throttled")
    sign_in(b, web_ui, "bob")
    assert sid not in b.page_source
    b_sid = new_session(b, "bob's")
    wait(b, lambda d: d.find_element(By.ID, "tree").get_attribute("data-loaded"), "bob's tree")
    assert "hello.py" not in tree_names(b) and "Hello, world!" not in log_text(b)
    shots(b, "bob-session")

    b.get(web_ui.url + "/s/" + sid)
    assert "no such session" in b.find_element(By.ID, "error-message").text
    shots(b, "bob-guesses-alices-url")
    for path in (f"/api/s/{sid}/file?path=hello.py", f"/api/s/{sid}/raw?path=hello.py",
                 f"/api/s/{sid}/files"):
        b.get(web_ui.url + path)
        assert "no such session" in b.page_source and "Hello" not in b.page_source
    b.get(web_ui.url + "/api/s/" + b_sid + "/file?path=../" + sid + "/hello.py")
    assert "not allowed" in b.page_source

    # over the WebSocket: alice's id refused, bob's own accepted (the same code path)
    b.get(web_ui.url + "/s/" + b_sid)
    ws = """
        const [sid, done] = [arguments[0], arguments[arguments.length - 1]];
        const w = new WebSocket("ws://" + location.host + "/s/" + sid + "/ws");
        const got = [];
        w.onmessage = (e) => got.push(e.data);
        w.onopen = () => setTimeout(() => { w.close(); done("open " + got.join("|")); }, 0);
        w.onclose = (e) => done("closed " + e.code + " " + got.join("|"));
    """
    b.set_script_timeout(WAIT_S)
    assert b.execute_async_script(ws, sid).startswith("closed 1006")
    assert b.execute_async_script(ws, b_sid).startswith("open")
    shots(b, "bob-after-guessing")

    # alice's terminal, which no page holds since she left, is closed
    with sbxd.client(timeout=30.0) as c:
        wait(a, lambda d: not any(t.terminal_id == tid and t.running
                                  for t in c.list_terminals(sid).terminals),
             "alice's terminal closed after she left the page")
