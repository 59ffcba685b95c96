"""``python -m bowclf``: the ``bowclf`` command line."""

from .cli import main

if __name__ == "__main__":
    main()
