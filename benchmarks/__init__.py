"""healstack's performance benchmarks (issue #6): not part of the test suite.

Run ``.venv/bin/python -m benchmarks.run`` (see ``benchmarks/run.py`` and
``docs/performance.md``). Each module measures one thing and returns rows for one table.
"""
