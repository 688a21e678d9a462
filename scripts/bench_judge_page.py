"""Benchmark: the judge page in Debian's Chromium on loopback.

1. submit-to-next-pair-shown: judges --pairs pairs of 1600x1200 images by
   keyboard and reads the page's own measure (from Ctrl+Enter to the frame
   after the new pair's pictures are decoded and swapped in);
2. 24-megapixel first region: opens a pair of 6000x4000 noisy images and
   times, inside the page, from the 100 % click to every visible tile of
   the three panels being loaded: as imported (imports cut a large image's
   display sizes and tiles) with an empty browser cache; after a pan to a
   far corner; and, the worst case, for images imported by an older version
   with nothing cut (the server decodes three 24-MP PNGs).

    .venv/bin/python scripts/bench_judge_page.py [--pairs 12]

A figure, not a test; the server is werkzeug's threaded development server.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import statistics
import tempfile
import threading
import time

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from pairwise import create_app, pools
from pairwise.auth import add_user
from pairwise.cli import main as pairwise_cli
from pairwise.context import current_store
from pairwise.db import get_db, get_engine
from pairwise.migrate import upgrade

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PASSWORD = "bench-password-1"

READY = """async (ports) => {
  const start = performance.now();
  document.querySelector("button[data-zoom='1']").click();
  for (;;) {
    await new Promise((r) => requestAnimationFrame(r));
    const all = ports.map((p) => document.querySelectorAll(`.port[data-port=${p}] img.tile`));
    if (all.every((l) => l.length && Array.from(l).every((t) => t.classList.contains('ready')))) break;
  }
  return performance.now() - start;
}"""

PAN = """async (ports) => {
  const start = performance.now();
  for (let i = 0; i < 40; i++) document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowLeft', shiftKey: true, bubbles: true}));
  for (let i = 0; i < 40; i++) document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowUp', shiftKey: true, bubbles: true}));
  await new Promise((r) => requestAnimationFrame(r));
  for (;;) {
    await new Promise((r) => requestAnimationFrame(r));
    const all = ports.map((p) => document.querySelectorAll(`.port[data-port=${p}] img.tile`));
    if (all.every((l) => Array.from(l).every((t) => t.classList.contains('ready')))) break;
  }
  return performance.now() - start;
}"""


def photo(seed: int, size: tuple[int, int]) -> bytes:
    """Gradients plus grain: compresses like a photo, not like a flat test card."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w * 200 + 30, y / h * 180 + 40, np.full_like(x, 90.0 + seed * 7)], axis=-1)
    rgb += rng.normal(0, 2, size=rgb.shape).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def build(app, pairs: int, skip_big: bool) -> None:
    with app.app_context():
        upgrade(get_engine())
        db = get_db()
        add_user(db, "bench@example.com", PASSWORD, "expert")
        pool = pools.create_pool(db, "bench", {"rationale_min_chars": 10})
        for k in range(pairs + 1):
            pools.add_item(db, current_store(), pool, item_id=f"i{k}", category="apparel",
                           instruction=f"retouch {k}", source=pools.Upload("s.png", photo(3 * k, (1600, 1200))),
                           outputs={"a": pools.Upload("a.png", photo(3 * k + 1, (1600, 1200))),
                                    "b": pools.Upload("b.png", photo(3 * k + 2, (1600, 1200)))})
        db.commit()
        if skip_big:
            return
        # No sentinel: a degraded 24-MP copy is an import matter, not what is measured here.
        big = pools.create_pool(db, "big", {"rationale_min_chars": 10, "gold_share": 0})
        sources = {name: photo(seed, (6000, 4000)) for name, seed in (("s", 1), ("a", 2), ("b", 3))}
        c0, t0 = time.process_time(), time.perf_counter()
        pools.add_item(db, current_store(), big, item_id="big", category="apparel", instruction="retouch",
                       source=pools.Upload("s.png", sources["s"]),
                       outputs={"a": pools.Upload("a.png", sources["a"]), "b": pools.Upload("b.png", sources["b"])})
        db.commit()
        print(f"importing one item of three 24-MP images (display sizes and tiles cut at import): "
              f"{time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU")


def current_store_root(app):
    with app.app_context():
        return current_store().root


def login(browser, base: str):
    """A new browser context (empty cache), logged in. bypass_csp: wait_for_function
    evaluates a string, which the CSP forbids."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True).new_page()
    page.set_default_timeout(60000)
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "bench@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return page


def cpu() -> float:
    """CPU seconds of this process so far: the server's work (Chromium's is not counted)."""
    return time.process_time()


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--skip-big", action="store_true", help="only the submit-to-next figure")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = tempfile.mkdtemp()
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "IMAGE_DIR": f"{tmp}/images",
                      "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": True})
    t = time.perf_counter()
    build(app, args.pairs, args.skip_big)
    print(f"setup: {time.perf_counter() - t:.1f} s")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
            page = login(browser, base)
            page.goto(f"{base}/pools/bench/judge")
            page.wait_for_function("document.getElementById('judge').dataset.assignment")
            times, sharp = [], []
            c0, t0 = cpu(), time.perf_counter()
            for _ in range(args.pairs):
                page.keyboard.press("1")
                page.keyboard.press("r")
                page.keyboard.type("bench rationale text")
                page.keyboard.press("Control+Enter")
                page.wait_for_function("document.getElementById('judge').dataset.lastSwitchMs")
                times.append(float(page.locator("#judge").get_attribute("data-last-switch-ms")))
                page.wait_for_function("document.getElementById('judge').dataset.lastSharpMs")
                sharp.append(float(page.locator("#judge").get_attribute("data-last-sharp-ms")))
                print("  (submit+next, decode) ms:", page.locator("#judge").get_attribute("data-timing"), "sharp", sharp[-1])
                page.evaluate("delete document.getElementById('judge').dataset.lastSwitchMs;"
                              "delete document.getElementById('judge').dataset.lastSharpMs")
                page.wait_for_timeout(2500)  # an expert's pause (real ones are longer); the prefetch ends
            print(f"submit-to-next-pair-shown over {len(times)} pairs: median {statistics.median(times):.0f} ms, "
                  f"max {max(times):.0f} ms; sharp at fit: median {statistics.median(sharp):.0f} ms, max {max(sharp):.0f} ms")
            print(f"  server CPU {cpu() - c0:.1f} s over {time.perf_counter() - t0:.1f} s wall; {load()}")

            if args.skip_big:
                return
            page.goto(f"{base}/pools/big/judge")
            page.wait_for_function("document.getElementById('judge').dataset.assignment")
            c0 = cpu()
            first = page.evaluate(READY, ["source", "left", "right"])
            print(f"24 MP, 100 % at the centre, three panels, as imported (display sizes and tiles cut at "
                  f"import), empty browser cache: {first:.0f} ms (server CPU {cpu() - c0:.2f} s; {load()})")
            c0 = cpu()
            pan = page.evaluate(PAN, ["source", "left", "right"])
            print(f"24 MP, then a pan to a far corner at 100 %: {pan:.0f} ms (server CPU {cpu() - c0:.2f} s)")

            # An image folder from before imports cut tiles: nothing derived on disk.
            root = current_store_root(app)
            for path in [p for p in root.rglob("*.d") if p.is_dir()]:
                shutil.rmtree(path)
            for path in list(root.rglob("*.preview.png")) + list(root.rglob("*.thumb.png")):
                path.unlink()
            fresh = login(browser, base)
            fresh.goto(f"{base}/pools/big/judge")
            fresh.wait_for_function("document.getElementById('judge').dataset.assignment")
            c0 = cpu()
            cold = fresh.evaluate(READY, ["source", "left", "right"])
            print(f"24 MP, 100 % at the centre, nothing cut (images imported by an older version; "
                  f"worst case): {cold:.0f} ms (server CPU {cpu() - c0:.2f} s; {load()})")
            t = time.perf_counter()
            result = app.test_cli_runner().invoke(pairwise_cli, args=["pools", "tiles", "big"])
            print(f"pairwise pools tiles big (after that view): {result.output.strip()} in "
                  f"{time.perf_counter() - t:.1f} s")
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
