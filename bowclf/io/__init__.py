"""Bytes to models and back: readers of foreign model formats (fastText ``.bin``/``.ftz``)."""
