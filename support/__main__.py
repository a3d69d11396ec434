"""Command line: ``python -m support fetch|list|batch``."""

from __future__ import annotations

import argparse
import sys


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

    from .batch import add_batch_arguments

    add_batch_arguments(sub.add_parser("batch", help="run a notebook over a parameter grid with papermill"))

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
    from .batch import run_batch_from_args

    return run_batch_from_args(args)


if __name__ == "__main__":
    sys.exit(main())
