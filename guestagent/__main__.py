import sys

from guestagent.cli import main

if __name__ == "__main__":
    sys.exit(main())
