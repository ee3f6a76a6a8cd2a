"""Time a clip switch on the Video parser until the clip's audio & frames lanes are drawn (the spectrogram
and the thumbnails loaded), in a real browser, on the shipped compact demo (or $MMCSE_DATA_ROOT), with an
empty media cache (first visits decode each video once: clips that are not the open clip's neighbours,
which are decoded in the background) and then again (revisits read the cache):

    python scripts/measure_media.py --repeat 5

Prints each figure with the 1-minute load average and the CPU count (see scripts/measure_app.py, whose
server and clicks it reuses); nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure_app as m  # noqa: E402

MEDIA_DRAWN = f"""(clip) => {{ const t = {m.FIND_TIMELINE};
  if (!t || t.dataset.clip !== clip || !t.querySelector('.track')) return false;
  const images = [...t.querySelectorAll('.media-lane img')];
  return images.length > 0 && !!t.querySelector('.media-lane.spectrogram img')
    && images.every(i => i.complete && i.naturalWidth > 0); }}"""


def timed_switch(page, row: int, clip: str) -> float:
    t0 = time.perf_counter()
    m.click_row(page, row)
    page.wait_for_function(MEDIA_DRAWN, arg=clip, timeout=180_000)
    seconds = time.perf_counter() - t0
    m.wait_idle(page)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="clips switched to per series")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs", flush=True)
    names = m.test_clip_names()
    port = m.free_port()
    cache = tempfile.mkdtemp(prefix="mmcse_media_cache_")  # empty: every first visit decodes its video
    proc, _ = m.start_server(port, {"MMCSE_CACHE": cache})
    url = f"http://localhost:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=m.CHROMIUM, args=m.ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"{url}/video_parser")
            page.wait_for_function(m.TIMELINE, arg=[None, None], timeout=180_000)
            m.wait_idle(page)
            opened = names.index(page.evaluate(m.TIMELINE_CLIP))
            # shipped videos, not next to the open clip (its neighbours are prefetched); each is brought to
            # the table's first row by a search (not timed): a one-clip table prefetches nothing
            rows = [row for row in range(6) if abs(row - opened) > 1][: max(args.repeat, 1)]
            for label in ("switch, media decoded (first visit)", "switch, media from the cache"):
                times, load_before = [], m.load()
                for row in rows:
                    m.search(page, names[row])
                    times.append(timed_switch(page, 0, names[row]))
                m.report(label, times, load_before)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
