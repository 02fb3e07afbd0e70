"""``python -m logel``: the ``logel`` command line (:func:`logel.cli.main`)."""

from logel.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
