import sys

from jaxreg._startup import restore_interrupts
from jaxreg.app import main

restore_interrupts()  # the command handles Ctrl-C itself from here on
sys.exit(main())
