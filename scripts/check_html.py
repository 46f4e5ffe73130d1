r"""Open every chapter of the built book in headless Chromium and fail on a broken page.

Usage: ``python scripts/check_html.py [--html _build/html] [--out _build/screenshots]``
(``make check-html`` builds the book first and installs Debian's ``chromium`` if missing).

The book is served from ``127.0.0.1`` on a free port by a ``http.server`` in this process.
Chromium is driven over the Chrome DevTools Protocol through ``--remote-debugging-pipe``
(JSON messages ending in a NUL byte on file descriptors 3 and 4), so nothing beyond the
standard library, PyYAML and the browser is needed. Requests to any host but loopback go to a
dead local proxy, so the check itself never reaches outside the machine. For every page
listed in ``_toc.yml`` it

* saves a full-page screenshot to ``<out>/<page>.png``, and
* fails on a JavaScript exception or console error, a request answered with an HTTP error or
  not answered at all, a request to any host but the local server (the book must work
  offline, so no CDN), an ``<img>`` that did not load (``naturalWidth`` 0), and math that
  MathJax did not render: a ``.math`` element without MathJax output, a MathJax error or
  undefined macro, or raw TeX (``$...$``, ``\\(``, ``\\[``, ``\\begin{``) left in the text.

Exit status 0 when every page passes, 1 otherwise (one line per problem), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import http.server
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
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
    "--mute-audio",
    # Every request but those to loopback goes to a dead local proxy: nothing leaves the machine.
    "--proxy-server=http://127.0.0.1:9",
]
WIDTH, HEIGHT, MAX_HEIGHT = 1280, 900, 16000
TIMEOUT = 60.0

# Runs in the page once it has loaded: waits for MathJax, then reports what is broken.
INSPECT = r"""
(async () => {
  const report = {images: 0, math: 0, broken: [], problems: []};
  const imgs = [...document.images];
  imgs.forEach(img => { img.loading = "eager"; });
  await Promise.all(imgs.map(img => img.decode().catch(() => null)));
  report.images = imgs.length;
  for (const img of imgs) {
    if (img.naturalWidth === 0) report.broken.push(img.currentSrc || img.src);
  }
  const math = [...document.querySelectorAll(".math")];
  report.math = math.length;
  const start = Date.now();
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  while (math.length && !ready() && Date.now() - start < 20000) {
    await new Promise(r => setTimeout(r, 100));
  }
  if (math.length && !ready()) {
    report.problems.push("MathJax did not load");
  } else if (math.length) {
    await MathJax.startup.promise;
    for (const m of math) {
      if (!m.querySelector("mjx-container")) {
        report.problems.push("math not rendered: " + m.textContent.trim().slice(0, 80));
      }
    }
    // CHTML draws characters with CSS, so read MathJax's own MathML of each formula.
    for (const item of MathJax.startup.document.math) {
      const mml = MathJax.startup.toMML(item.root);
      const tex = String(item.math).trim().slice(0, 80);
      if (mml.includes("<merror")) report.problems.push("TeX error in: " + tex);
      const undefinedMacro = mml.match(/<mtext mathcolor="red">(\\[^<]*)</);
      if (undefinedMacro) {
        report.problems.push("undefined TeX macro " + undefinedMacro[1] + " in: " + tex);
      }
    }
  }
  const skip = "script, style, pre, code, textarea, mjx-container, .math";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = /\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent && parent.closest(skip)) continue;
    if (tex.test(node.textContent)) {
      report.problems.push("raw TeX in the text: " + node.textContent.trim().slice(0, 80));
    }
  }
  return report;
})()
"""


class Browser:
    """Chromium with the DevTools protocol on a pipe; one page (a flat session)."""

    def __init__(self, chromium: str, log: Path):
        self._profile = tempfile.TemporaryDirectory(prefix="agc-chromium-")
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        # Move the child's ends above fd 10 so that the dup2 onto 3 and 4 cannot clobber them.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, res_w)]
        for fd in (cmd_r, res_w):
            os.close(fd)

        def child_fds():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={self._profile.name}",
             f"--window-size={WIDTH},{HEIGHT}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            pass_fds=(3, 4), preexec_fn=child_fds,
        )
        for fd in high:
            os.close(fd)
        self._out, self._in = cmd_w, res_r
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            attached = self.call("Target.attachToTarget", targetId=target, flatten=True)
            self.session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.call(f"{domain}.enable", session=True)
            self.viewport(HEIGHT)
        except BaseException:
            self.close()
            raise

    def viewport(self, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _read(self, timeout: float) -> dict | None:
        """The next message, or None if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                return None
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (see its log)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, **params):
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            reply = self._read(deadline - time.monotonic())
            if reply is None:
                break
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)
        raise TimeoutError(f"no answer from Chromium to {method} within {TIMEOUT:.0f} s")

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            reply = self._read(deadline - time.monotonic())
            if reply is None:
                raise TimeoutError(f"no {method} within {timeout:.0f} s")
            if "method" in reply:
                self.events.append(reply)

    def settle(self, quiet: float = 0.5, limit: float = 10.0) -> None:
        """Collect events until none arrives for ``quiet`` seconds (late fonts, images)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            reply = self._read(quiet)
            if reply is None:
                return
            if "method" in reply:
                self.events.append(reply)

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._out, self._in):
            os.close(fd)
        self._log.close()
        self._profile.cleanup()


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the book quietly and remembers every error status it sent."""

    errors: list[str]

    def log_message(self, format, *args):
        pass

    def log_request(self, code="-", size="-"):
        if isinstance(code, int) and code >= 400:
            self.errors.append(f"{int(code)} {self.path}")


def toc_pages(root: Path) -> list[str]:
    """The pages of ``_toc.yml``, as paths relative to the HTML root (``book/intro.html``)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(items):
        for item in items or []:
            if "file" in item:
                pages.append(item["file"])
            walk(item.get("sections"))
            walk(item.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return [str(Path(p).with_suffix("")) + ".html" for p in pages]


def problems_of(browser: Browser, url: str, base: str, server_errors: list[str]):
    """Load ``url``; return what is wrong with it and the page's own report (counts)."""
    browser.events.clear()
    server_errors.clear()
    navigation = browser.call("Page.navigate", session=True, url=url)
    if navigation.get("errorText"):
        return [f"page did not load: {navigation['errorText']}"], {"math": 0, "images": 0}
    browser.wait_for("Page.loadEventFired")
    report = browser.call("Runtime.evaluate", session=True, expression=INSPECT,
                          awaitPromise=True, returnByValue=True, timeout=TIMEOUT * 1000)
    if "exceptionDetails" in report:
        raise RuntimeError(f"page inspection failed: {report['exceptionDetails'].get('text')}")
    report = report["result"]["value"]
    browser.settle()
    problems = list(report["problems"])
    problems += [f"image did not load: {src}" for src in report["broken"]]
    requests = {}
    for event in browser.events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            requests[params["requestId"]] = params["request"]["url"]
            target = params["request"]["url"]
            if not target.startswith((base, "data:", "blob:", "about:")):
                problems.append(f"request to outside the book: {target}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            problems.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            target = requests.get(params["requestId"], params["requestId"])
            problems.append(f"request failed ({params.get('errorText')}): {target}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            problems.append(f"JavaScript error: {text.splitlines()[0]}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            problems.append(f"console error: {args[:200]}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            problems.append(f"browser error ({entry['source']}): {entry['text'][:200]}")
    problems += [f"server answered {e}" for e in server_errors]
    return list(dict.fromkeys(problems)), report


def screenshot(browser: Browser, path: Path) -> None:
    """A full-page PNG: the viewport is made as tall as the page, then set back."""
    size = browser.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
    height = min(int(size["height"]) + 1, MAX_HEIGHT)
    browser.viewport(height)
    try:
        shot = browser.call("Page.captureScreenshot", session=True, format="png")
    finally:
        browser.viewport(HEIGHT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=Path("_build/html"))
    parser.add_argument("--out", type=Path, default=Path("_build/screenshots"))
    parser.add_argument("--root", type=Path, default=Path("."), help="where _toc.yml is")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        print(f"check-html: no built book in {args.html} (run make book)", file=sys.stderr)
        return 2
    if not os.access(args.chromium, os.X_OK):
        print(f"check-html: {args.chromium} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    pages = toc_pages(args.root)

    # Chromium first: its launch forks, which must happen before the server thread exists.
    browser = Browser(args.chromium, args.out / "chromium.log")
    server_errors: list[str] = []

    class BookHandler(Handler):
        errors = server_errors

    handler = functools.partial(BookHandler, directory=str(args.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    failed = 0
    try:
        for page in pages:
            if not (args.html / page).is_file():
                print(f"FAIL {page}: not built")
                failed += 1
                continue
            problems, report = problems_of(browser, base + page, base, server_errors)
            shot = args.out / Path(page).with_suffix(".png")
            screenshot(browser, shot)
            if problems:
                failed += 1
                print(f"FAIL {page} (screenshot {shot}):")
                for problem in problems:
                    print(f"     {problem}")
            else:
                print(f"ok   {page}: {report['math']} math, {report['images']} images ({shot})")
    finally:
        browser.close()
        server.shutdown()
        server.server_close()
    print(f"check-html: {len(pages) - failed} of {len(pages)} pages ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
