"""``python -m pl_lrfind``: the same command line as the ``pl-lrfind`` script."""

from pl_lrfind.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
