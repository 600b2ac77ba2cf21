"""One module per target kind: each registers its vocabulary with ``healstack.catalog``.

Add a kind by adding a module here (and its AWS and Lambda units: see ``healstack.catalog``).
"""
