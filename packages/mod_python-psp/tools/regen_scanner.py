#!/usr/bin/env python3
"""Regenerate src/psp_parser/psp_scanner.c from psp_scanner.l with flex.

The generated scanner is committed so that building mod_python._psp (from
the repository or an sdist) needs no flex. Run this after changing the .l:

    python tools/regen_scanner.py            # rewrite psp_scanner.c
    python tools/regen_scanner.py --check    # exit 1, with a diff, if it is stale

flex runs in a temporary directory on a copy of the .l named as in the
repository, with --noline, so the output holds no path of this machine and
is the same wherever it is made with the same flex version (the version is
printed; the committed file was made with flex 2.6.4, whose output differs
from other versions'). Options: --flex PATH picks the flex to run.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PARSER = Path(__file__).resolve().parents[1] / "src" / "psp_parser"
SOURCE = PARSER / "psp_scanner.l"
TARGET = PARSER / "psp_scanner.c"


def generate(flex: str) -> str:
    """The scanner flex makes from psp_scanner.l, as text."""
    with tempfile.TemporaryDirectory(prefix="psp-flex-") as tmp:
        shutil.copyfile(SOURCE, Path(tmp) / SOURCE.name)
        subprocess.run(
            [flex, "--noline", "-o", TARGET.name, SOURCE.name],
            cwd=tmp,
            check=True,
        )
        return (Path(tmp) / TARGET.name).read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check: exit 1 if stale")
    parser.add_argument("--flex", default="flex", help="the flex program (default: flex)")
    args = parser.parse_args(argv)

    if shutil.which(args.flex) is None:
        print(f"regen_scanner: {args.flex} not found; install flex", file=sys.stderr)
        return 2
    version = subprocess.run(
        [args.flex, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    fresh = generate(args.flex)
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if not args.check:
        if fresh != current:
            TARGET.write_text(fresh, encoding="utf-8")
            print(f"regen_scanner: wrote {TARGET} ({version})")
        else:
            print(f"regen_scanner: {TARGET} is up to date ({version})")
        return 0
    if fresh == current:
        print(f"regen_scanner: {TARGET.name} is up to date ({version})")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        fresh.splitlines(keepends=True),
        f"{TARGET.name} (committed)",
        f"{TARGET.name} (from {SOURCE.name}, {version})",
    )
    sys.stdout.writelines(diff)
    print(
        f"regen_scanner: {TARGET.name} is stale: run python tools/regen_scanner.py",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
