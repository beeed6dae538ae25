import sys

if __name__ == "__main__":
    if sys.argv[1:] == ["--version"]:  # before loading the command line: start-up is the cost
        from guestagent import __version__
        sys.stdout.write("guestagent {}\n".format(__version__))
        sys.exit(0)
    from guestagent.cli import main
    sys.exit(main())
