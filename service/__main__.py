"""`python -m service` is the `ach-risk` command."""

import sys

from service.cli import main

sys.exit(main())
