"""`python -m service.emulator [--listen HOST:PORT] [--scenario FILE]`."""

import sys

from service.emulator.command import main

sys.exit(main())
