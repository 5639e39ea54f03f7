"""Entry point: ``python -m benchmarks [--quick] [--loop ...] [--json FILE] [--plot FILE.png]``."""

from benchmarks.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
