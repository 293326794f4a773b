#!/usr/bin/python3
"""The duty team's dashboard in a real browser.

Debian's Chromium, headless, driven by Debian's python3-selenium through
chromedriver, with the flags of DESIGN.md section 12. tests/integration/
test_browser.c starts a real broker and agents and runs this with their
details; run it through CTest (label browser), not by hand.

It checks that a wrong token is refused, logs in, sees a new immediate
referral (submitted through the police agent while the page is open) appear
in the live feed without a reload, opens the case page, and logs out. Every
wait is for a condition, with a timeout. Screenshots go to --screenshots.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# DESIGN.md section 12, "Chromium in CI (root)".
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_S = 20
CHILD_NAME = "Amanuel"


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def step(text, started=[time.monotonic()]):
    print("[%6.2f s] %s" % (time.monotonic() - started[0], text), flush=True)


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + ["--user-data-dir=" + profile, "--window-size=1280,1000", "--lang=en-GB"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait(driver, what, cond, timeout=WAIT_S):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: cond(d))
    except WebDriverException as e:
        raise Failure("waited %d s for %s: %s" % (timeout, what, e.__class__.__name__))


def post_login(url, token):
    """The login form's POST, outside the browser, for its status code."""
    body = urllib.parse.urlencode({"token": token}).encode()
    req = urllib.request.Request(url + "/login", data=body, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=WAIT_S) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def refer(args):
    """A new immediate referral, through the police agent's childfirst refer."""
    cmd = [args.childfirst, "refer", args.referral, "-c", args.referrer_config]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(done.returncode == 0, "childfirst refer failed: %s %s" % (done.stdout, done.stderr))
    receipt = json.loads(done.stdout)
    check(receipt.get("status") == "accepted", "the referral was not accepted: %s" % receipt)
    return receipt["case_id"]


def feed_item(driver, case_id, label):
    for li in driver.find_elements(By.CSS_SELECTOR, "#feed li"):
        if case_id in li.text and label in li.text:
            return li
    return None


def run(args, driver):
    base = args.url.rstrip("/")

    # A wrong token is refused: 403 and no cookie, by the form and by the browser.
    status, headers = post_login(base, "not-the-token-at-all-0123456789")
    check(status == 403, "a wrong token got %d, not 403" % status)
    check("Set-Cookie" not in headers, "a wrong token was given a cookie")
    driver.get(base + "/")
    wait(driver, "the login form", lambda d: d.find_elements(By.ID, "token"))
    check(driver.current_url == base + "/login", "not sent to /login: " + driver.current_url)
    driver.find_element(By.ID, "token").send_keys("not-the-token-at-all-0123456789")
    driver.find_element(By.ID, "login").click()
    refused = wait(driver, "the refusal", lambda d: d.find_elements(By.ID, "refused"))
    check("That token is not right" in refused[0].text, "the refusal does not say why")
    check(not driver.get_cookies(), "a wrong token left a cookie: %s" % driver.get_cookies())
    step("a wrong token is refused (403, no cookie)")

    # Log in: a session cookie, HttpOnly and SameSite=Strict; the token in no URL.
    driver.find_element(By.ID, "token").send_keys(args.token)
    driver.find_element(By.ID, "login").click()
    wait(driver, "the dashboard", lambda d: d.find_elements(By.ID, "cases"))
    check(driver.current_url == base + "/", "not on the dashboard: " + driver.current_url)
    cookies = driver.get_cookies()
    check(len(cookies) == 1 and cookies[0]["name"] == "cf_session", "cookies: %s" % cookies)
    check(cookies[0]["httpOnly"] and cookies[0].get("sameSite") == "Strict",
          "the session cookie's flags: %s" % cookies[0])
    check(args.token not in cookies[0]["value"], "the cookie holds the token")
    check(args.token not in driver.current_url, "the token is in the URL")
    check(not driver.execute_script("return document.cookie"), "script can read the cookie")
    step("logged in")

    # What was there before: the breached case first, the acknowledged one marked undelivered.
    rows = driver.find_elements(By.CSS_SELECTOR, "#cases tbody tr")
    ids = [r.get_attribute("data-case") for r in rows]
    check(args.breached_case in ids and args.acknowledged_case in ids, "cases listed: %s" % ids)
    check(ids.index(args.breached_case) < ids.index(args.acknowledged_case),
          "the breached case is not listed first: %s" % ids)
    breached = rows[ids.index(args.breached_case)]
    check("breached" in breached.get_attribute("class").split(), "the breach is not highlighted")
    acked = rows[ids.index(args.acknowledged_case)]
    check("undelivered" in acked.get_attribute("class").split(),
          "the undelivered case is not highlighted")
    check("acknowledged" in acked.text, "the acknowledged case shows: " + acked.text)
    check(CHILD_NAME not in driver.page_source, "the dashboard shows a child's name")
    wait(driver, "the live feed to connect",
         lambda d: d.find_element(By.ID, "live").text == "Live feed: live")
    step("the dashboard lists %d open cases, soonest deadline first; the live feed is on"
         % len(ids))

    # A new immediate referral arrives while the page is open: no reload.
    driver.execute_script("window.childfirstNoReload = 'still the same page';")
    before = len(driver.find_elements(By.CSS_SELECTOR, "#feed li"))
    case_id = refer(args)
    step("referred %s through the police agent" % case_id)
    item = wait(driver, "the new referral in the live feed",
                lambda d: feed_item(d, case_id, "New referral"))
    check(driver.execute_script("return window.childfirstNoReload") == "still the same page",
          "the page was reloaded")
    check("immediate" in item.get_attribute("class").split(), "the item is not marked immediate")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#feed li")) > before, "the feed did not grow")
    wait(driver, "the new case in the table",
         lambda d: d.find_elements(By.CSS_SELECTOR, '#cases tr[data-case="%s"]' % case_id))
    wait(driver, "the referral itself in the feed", lambda d: feed_item(d, case_id, "referral"))
    step("the new referral appeared in the live feed without a reload")
    driver.save_screenshot(os.path.join(args.screenshots, "dashboard.png"))

    # Nothing came from outside the agent, and the CSP was never broken.
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    outside = [r for r in resources if not r.startswith(base + "/")]
    check(not outside, "resources from outside the agent: %s" % outside)
    problems = [e["message"] for e in driver.get_log("browser")
                if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    check(not problems, "the browser reports: %s" % problems)

    # The case page: the timeline, and the child, whom the duty team may read.
    item.find_element(By.CSS_SELECTOR, "a").click()
    wait(driver, "the case page", lambda d: d.find_elements(By.ID, "timeline"))
    check(case_id in driver.find_element(By.ID, "case-id").text, "another case opened")
    check(driver.current_url == base + "/cases/" + case_id, "case URL: " + driver.current_url)
    timeline = driver.find_element(By.ID, "timeline").text
    check("referral" in timeline and "New referral" in timeline, "timeline: " + timeline)
    child = driver.find_element(By.ID, "child")
    check(CHILD_NAME in child.text, "the case page does not show the child")
    step("the case page shows the timeline and the child")
    driver.save_screenshot(os.path.join(args.screenshots, "case.png"))

    # Logging out ends the session.
    driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    wait(driver, "the login form again", lambda d: d.find_elements(By.ID, "token"))
    driver.get(base + "/")
    wait(driver, "the login form after logout", lambda d: d.find_elements(By.ID, "token"))
    check(driver.current_url == base + "/login", "still logged in after logout")
    step("logged out")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--childfirst", required=True)
    p.add_argument("--referrer-config", required=True)
    p.add_argument("--referral", required=True)
    p.add_argument("--breached-case", required=True)
    p.add_argument("--acknowledged-case", required=True)
    p.add_argument("--screenshots", required=True)
    args = p.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cf-browser-") as profile:
        driver = browser(profile)
        step("Chromium started")
        try:
            run(args, driver)
        except Failure as e:
            print("FAILED: %s" % e, flush=True)
            driver.save_screenshot(os.path.join(args.screenshots, "failure.png"))
            with open(os.path.join(args.screenshots, "failure.html"), "w") as f:
                f.write(driver.page_source)
            return 1
        finally:
            driver.quit()
    step("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
