"""Bytes to models and back: bowclf's own model files (reading and validation, modelfile) and
foreign model formats (fastText ``.bin``/``.ftz``, product-quantised matrices)."""
