"""Run the geocore command line: ``python -m geocore --help``."""

import sys

from .cli import main

sys.exit(main())
