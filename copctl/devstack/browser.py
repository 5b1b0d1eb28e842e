"""Debian's Chromium and its ChromeDriver, which the browser tests drive (tests/browser):
installed with apt-get when missing, never a browser downloaded at run time."""

import os
import shutil

from copctl.devstack.processes import StackError, run_checked

PACKAGES = ("chromium", "chromium-driver")
# Flags for a headless Chromium that reaches nothing outside the machine: no background
# networking, component updates or sync (a closed network refuses them, many at a time).
FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, and in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def install() -> tuple[str, str]:
    """The paths of `chromium` and `chromedriver`, installing Debian's packages if missing."""
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if all(found):
        return found[0] or "", found[1] or ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError("chromium is missing: install Debian's chromium and chromium-driver")
    run_checked(["apt-get", "update", "-qq"], what="apt-get update")
    run_checked(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        what="installing chromium and chromium-driver",
    )
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        raise StackError("chromium or chromedriver is still missing after apt-get install")
    return browser, driver
