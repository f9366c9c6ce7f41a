import sys

from jaxreg.app import main

sys.exit(main())
