import sys

if __name__ == "__main__":
    from guestagent import answered_version, leave
    if answered_version(sys.argv[1:]):  # before loading the command line
        leave(0)
    from guestagent.cli import main
    sys.exit(main())
