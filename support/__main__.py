"""Command line: ``python -m support fetch|list|prepare|book|setup-cells|batch|report``."""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen sub-command."""
    parser = argparse.ArgumentParser(prog="python -m support", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="download, verify and unpack offline resources into the cache")
    fetch.add_argument("names", nargs="*", help="resource names (see `list`)")
    fetch.add_argument("--all", action="store_true", help="fetch every registered resource")
    fetch.add_argument("--force", action="store_true", help="fetch again even when cached")
    fetch.add_argument("--verify", action="store_true", help="check every cached file's sha256")

    sub.add_parser("list", help="list the registered resources and whether they are cached")

    prep = sub.add_parser("prepare", help="fetch each chapter's resources and train its cached models, one at a time")
    prep.add_argument("chapters", nargs="*", help="chapters by number or name (default: every chapter)")
    prep.add_argument("--profile", default="local", choices=("smoke", "local", "paper"))
    prep.add_argument("--device", default="cpu", help="torch device to train on")

    book = sub.add_parser("book", help="build the book (every chapter, or only the named ones) with progress lines")
    book.add_argument("chapters", nargs="*", help="chapters to execute (default: all, with warnings as errors)")

    sub.add_parser("setup-cells", help="rewrite every chapter's setup cell from repository.url in _config.yml")

    from .batch import add_batch_arguments, add_report_arguments

    add_batch_arguments(sub.add_parser("batch", help="run a notebook over a parameter grid with papermill "
                                                     "(here, --jobs N in parallel, or on a Dask cluster)"))
    add_report_arguments(sub.add_parser("report", help="draw one figure (a metric against a parameter) from a batch"))

    args = parser.parse_args(argv)
    if args.command == "fetch":
        from . import resources

        names = sorted(resources.REGISTRY) if args.all else args.names
        if not names:
            parser.error("name at least one resource, or pass --all")
        try:
            for folder in resources.fetch_many(names, force=args.force, check=args.verify):
                print(folder)
        except (resources.ResourceError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command == "list":
        from . import resources
        from .cache import is_complete

        for res in resources.REGISTRY.values():
            state = "cached" if is_complete(res.folder) else "not cached"
            print(f"{res.name:14s} {res.client:4s} {res.spec:32s} {res.size_mb:>6g} MB  {state}  {res.description}")
        return 0
    if args.command == "prepare":
        from .models import ModelNotPrepared
        from .prepare import prepare
        from .resources import ResourceError

        started = time.perf_counter()
        try:
            table = prepare(args.chapters or None, profile=args.profile, device=args.device)
        except (ValueError, ModelNotPrepared, ResourceError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(table.drop(columns=["folder"]).to_string(index=False))
        print(f"prepared {len(table)} models in {time.perf_counter() - started:.0f} s")
        return 0
    if args.command == "book":
        from .book import build

        return build(args.chapters or None)
    if args.command == "setup-cells":
        from .colab import write_setup_cells

        for path in write_setup_cells():
            print(f"rewrote {path}")
        return 0
    if args.command == "report":
        from .batch import report

        try:
            print(report(args.out, args.x, args.y, args.hue))
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    from .batch import run_batch_from_args

    return run_batch_from_args(args)


if __name__ == "__main__":
    sys.exit(main())
