"""Take the screenshots of the worker chat, the expert console and the admin pages.

Example:
    python scripts/screenshots.py --out docs/screenshots

Runs the browser test that drives the live app through a worker's question, an expert's answer
and the statistics (tests/web/test_screenshots.py), at phone (390x844) and desktop (1280x800)
size. Needs the test extras (pip install -e ".[test]") and Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python scripts/screenshots.py --out docs/screenshots",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "docs" / "screenshots",
        help="folder for the PNG files (default: docs/screenshots)",
    )
    args = parser.parse_args()
    env = os.environ | {"SCREENSHOTS_DIR": str(args.out.resolve())}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/web/test_screenshots.py"],
        cwd=REPO,
        env=env,
    )
    if done.returncode != 0:
        print("error: the screenshot run failed (see above)", file=sys.stderr)
        return 1
    print(f"screenshots -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
