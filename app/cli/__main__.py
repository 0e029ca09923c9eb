"""`python -m app.cli ...`: the `sightline` command without the console script."""

import sys

from app.cli import main

sys.exit(main())
