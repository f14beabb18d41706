"""``python -m cv_client``: the command line of the reference client."""

from cv_client.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
