"""`python -m plaid_emulator [--listen HOST:PORT] [--scenario FILE]`."""

import sys

from plaid_emulator.command import main

sys.exit(main())
