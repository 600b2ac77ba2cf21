"""``python main.py`` (and ``cdktf synth``): synthesize the default stack into cdktf.out.

Thin on purpose: the work lives in ``healstack.cli``; this file only picks the default.
Pass the same arguments as ``healstack synth`` to synthesize other playbooks.
"""

import sys

from healstack.cli import main

if __name__ == "__main__":
    sys.exit(main(["synth", *sys.argv[1:]]))
