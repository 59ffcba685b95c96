"""``python -m bowclf.cli``: the same as the ``bowclf`` command."""

from . import main

main()
