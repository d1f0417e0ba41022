import sys

from painflow_shared.cli import main

sys.exit(main())
