"""The smoke run's tests: SAGE's whole model path against a real model.

They ship inside the package so `sage eval smoke` works from an installed wheel; it runs
them with pytest (the `smoke` extra) against the model it finds or starts. The main test
suite does not collect them (`testpaths` is `tests/`); `tests/test_smoke_cli.py` runs them
through `sage eval smoke`.
"""
