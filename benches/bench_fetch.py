"""Bytes each `fetch` option downloads, on a PMC-sized synthetic corpus served on loopback
(tests/pmc_server.py): every package vs licence-filtered packages (legacy), and the per-article
layout with everything vs only the XML and the figures it references (cloud).

    .venv/bin/python benches/bench_fetch.py --articles 60
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pmc_server import PmcServer  # noqa: E402

from rocov2_fast import synth  # noqa: E402
from rocov2_fast.fetch import FetchOptions, fetch  # noqa: E402

EVERY_LICENCE = ("CC BY", "CC BY-NC", "CC BY-NC-SA", "CC BY-NC-ND", "CC BY-SA", "CC BY-ND", "CC0", "NO-CC CODE")


def on_disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.name.startswith(("fetch_", "oa_file_list"))
               and p.parent.name != "metadata")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth.generate(tmp / "legacy", synth.Options(articles=args.articles, seed=args.seed, profile="pmc"))
        synth.generate(tmp / "cloud", synth.Options(articles=args.articles, seed=args.seed, profile="pmc", layout="cloud"))
        runs = []
        with PmcServer(tmp / "legacy", tmp / "cloud") as srv:
            for name, opts in [
                ("legacy, every licence", dict(layout="legacy", licenses=EVERY_LICENCE)),
                ("legacy, CC BY + CC BY-NC (default)", dict(layout="legacy")),
                ("cloud, every licence, --only all", dict(layout="cloud", licenses=EVERY_LICENCE, only="all")),
                ("cloud, CC BY + CC BY-NC, --only all", dict(layout="cloud", only="all")),
                ("cloud, CC BY + CC BY-NC, --only xml,figures (default)", dict(layout="cloud")),
            ]:
                out = tmp / f"out{len(runs)}"
                base = srv.url + ("/pub/pmc/" if opts["layout"] == "legacy" else "/bucket/")
                fetch(FetchOptions(out=out, base_url=base, show_progress=False, **opts))
                runs.append((name, on_disk(out)))
    full = runs[0][1]
    print(f"{args.articles} articles (profile pmc, seed {args.seed})")
    print("| option | bytes fetched | share of every package's bytes |")
    print("|---|---|---|")
    for name, size in runs:
        print(f"| {name} | {size / 1e6:.1f} MB | {size / full:.1%} |")


if __name__ == "__main__":
    main()
