"""`python -m txlint`: the same as the `txlint` command."""

import sys

from txlint.cli import main

sys.exit(main())
