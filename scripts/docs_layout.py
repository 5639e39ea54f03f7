"""Open every page of the built docs in headless Chromium at each window width and fail when
anything does not fit its column.

Run through ``bash scripts/docs-check``, which builds the docs first.  Usage::

    python scripts/docs_layout.py [--html docs/_build/html] [--width 1280 --width 390]
                                  [--screenshots DIR] [--page migration.html]

What counts as not fitting, at each width:

* the page itself scrolls sideways;
* an element of the page's main column sticks out of that column (elements inside a box that
  scrolls sideways are judged by that box);
* a box that hides what sticks out of it (``overflow: hidden``) cuts its content off;
* a table that scrolls sideways in its box hides its first column once scrolled to the end;
* at desktop widths (``--wide``, 1024 px and up by default) a code block that scrolls sideways:
  on a phone a long line may scroll inside its block, on a desktop it must fit.

The browser is Debian's (``/usr/bin/chromium`` driven by ``/usr/bin/chromedriver``, or the paths
in ``$CHROMIUM`` and ``$CHROMEDRIVER``); nothing is downloaded: Selenium Manager is never run.
The pages are loaded from ``file://`` URLs.  The exit status is 1 when any page does not fit,
2 when the browser cannot be started.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Selenium Manager would download a browser or a driver it cannot find; we give both paths, so
# it is never consulted, and it is told to stay offline should that ever change.
os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent

#: Flags for a browser on a machine without a display, a sandbox or a network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)

#: Runs in the page; returns a list of {what, where} for everything that does not fit.
MEASURE_JS = r"""
const wide = arguments[0];
const problems = [];
const px = (n) => Math.round(n) + "px";
const root = document.documentElement;
const viewport = root.clientWidth;
if (root.scrollWidth > viewport + 1) {
  problems.push({what: "the page scrolls sideways: " + px(root.scrollWidth) + " wide in a "
                       + px(viewport) + " window", where: ""});
}
const main = document.querySelector("article[role=main]") || document.body;
const column = main.getBoundingClientRect();

function label(el) {
  let name = el.tagName.toLowerCase();
  if (el.id) name += "#" + el.id;
  const classes = [...el.classList].filter((c) => !c.startsWith("highlight-")).slice(0, 3);
  if (classes.length) name += "." + classes.join(".");
  const text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ");
  if (text) name += ' "' + (text.length > 60 ? text.slice(0, 57) + "..." : text) + '"';
  return name;
}

function section(el) {
  const sec = el.closest("section");
  const heading = sec && sec.querySelector("h1, h2, h3, h4");
  return heading ? heading.textContent.replace("\u00b6", "").replace("#", "").trim() : "";
}

function where(el) {
  const sec = section(el);
  return label(el) + (sec ? ' in section "' + sec + '"' : "");
}

function overflowX(el) {
  return getComputedStyle(el).overflowX;
}

function scrollsX(el) {
  const o = overflowX(el);
  return (o === "auto" || o === "scroll") && el.scrollWidth > el.clientWidth + 1;
}

// The nearest ancestor, inside the main column, that clips or scrolls sideways.
function clippingAncestor(el) {
  for (let p = el.parentElement; p && p !== main; p = p.parentElement) {
    if (overflowX(p) !== "visible") return p;
  }
  return null;
}

function visible(el) {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden";
}

// The content box: padding may reach past the column on purpose (furo's headings do).
function contentBox(el) {
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  const left = r.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft);
  const right = r.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight);
  return {left: left, right: right, width: right - left};
}

for (const el of main.querySelectorAll("*")) {
  if (!visible(el)) continue;
  const r = contentBox(el);
  const box = clippingAncestor(el);
  if (box === null && (r.right > column.right + 1 || r.left < column.left - 1)) {
    problems.push({what: px(r.width) + " wide, sticks out of its " + px(column.width)
                         + " column by " + px(Math.max(r.right - column.right,
                                                       column.left - r.left)),
                   where: where(el)});
  }
  const o = overflowX(el);
  if ((o === "hidden" || o === "clip") && el.scrollWidth > el.clientWidth + 1) {
    problems.push({what: "cuts off its content: " + px(el.scrollWidth) + " wide in a "
                         + px(el.clientWidth) + " box that does not scroll",
                   where: where(el)});
    continue;
  }
  if (!scrollsX(el)) continue;
  const tables = el.tagName === "TABLE" ? [el] : [...el.querySelectorAll("table")];
  if (tables.length) {
    // Scroll to the far end: the first cell of every row must still be in view.
    const saved = el.scrollLeft;
    el.scrollLeft = el.scrollWidth;
    const inner = el.getBoundingClientRect();
    for (const table of tables) {
      for (const row of table.rows) {
        const first = row.cells[0];
        if (!first) continue;
        const c = first.getBoundingClientRect();
        if (c.left < inner.left - 1 || c.right > inner.right + 1) {
          problems.push({what: "scrolls sideways (" + px(el.scrollWidth) + " in "
                               + px(el.clientWidth) + ") and hides its first column",
                         where: where(table)});
          break;
        }
      }
    }
    el.scrollLeft = saved;
  } else if (wide && el.querySelector("pre, code") !== null || wide && el.tagName === "PRE") {
    problems.push({what: "scrolls sideways: " + px(el.scrollWidth) + " of text in a "
                         + px(el.clientWidth) + " box",
                   where: where(el)});
  }
}
return problems;
"""


@dataclass(frozen=True)
class Problem:
    page: str
    width: int
    what: str
    where: str

    def __str__(self) -> str:
        where = f": {self.where}" if self.where else ""
        return f"{self.page} at {self.width}px{where}\n    {self.what}"


def start_browser(user_data_dir: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


def set_width(driver: webdriver.Chrome, width: int, wide: int) -> None:
    """Make the viewport ``width`` CSS pixels wide, as a phone's below ``wide``."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < wide},
    )


def screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """Save the whole page, not only the viewport, as a PNG."""
    size = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    shot: dict[str, Any] = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 16000), "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def pages(html: Path, only: list[str]) -> list[Path]:
    found = sorted(p for p in html.rglob("*.html") if "_sources" not in p.parts)
    if only:
        found = [p for p in found if p.relative_to(html).as_posix() in only]
    return found


def check(driver: webdriver.Chrome, html: Path, page: Path, width: int, wide: int) -> list[Problem]:
    driver.get(page.as_uri())
    driver.execute_async_script("document.fonts.ready.then(() => arguments[0]())")
    actual = driver.execute_script("return document.documentElement.clientWidth")
    name = page.relative_to(html).as_posix()
    if abs(actual - width) > 1:
        return [Problem(name, width, f"the window is {actual}px wide, not {width}px", "")]
    found = driver.execute_script(MEASURE_JS, width >= wide)
    return [Problem(name, width, p["what"], p["where"]) for p in found]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "docs" / "_build" / "html")
    parser.add_argument("--width", type=int, action="append", help="default: 1280 and 390")
    parser.add_argument("--wide", type=int, default=1024, help="desktop from this width on")
    parser.add_argument("--page", action="append", default=[], help="e.g. migration.html")
    parser.add_argument("--screenshots", type=Path, help="save a PNG of each page and width")
    args = parser.parse_args()
    widths: list[int] = args.width or [1280, 390]
    todo = pages(args.html, args.page)
    if not todo:
        print(f"docs layout: no pages under {args.html} (build the docs first)", file=sys.stderr)
        return 1
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="docs-check-chromium-") as profile:
        try:
            driver = start_browser(profile)
        except WebDriverException as exc:
            print(f"docs layout: cannot start Chromium: {exc.msg}", file=sys.stderr)
            return 2
        try:
            for width in widths:
                set_width(driver, width, args.wide)
                for page in todo:
                    problems += check(driver, args.html, page, width, args.wide)
                    if args.screenshots:
                        flat = page.relative_to(args.html).as_posix().replace("/", "-")
                        screenshot(driver, args.screenshots / f"{flat[:-5]}-{width}.png")
        finally:
            driver.quit()
    for problem in problems:
        print(problem)
    checked = f"{len(todo)} pages at {' and '.join(f'{w}px' for w in widths)}"
    if problems:
        print(f"docs layout: {len(problems)} element(s) do not fit ({checked})")
        return 1
    print(f"docs layout: every element fits ({checked})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
