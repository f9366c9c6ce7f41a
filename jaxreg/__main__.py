import sys

from jaxreg.app._cli import main

sys.exit(main())
