import sys

from ordersync.cli import main

sys.exit(main())
