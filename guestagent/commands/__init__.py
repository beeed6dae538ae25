"""Subcommands beyond run/parse/check-config, one module each (HELP, add_arguments, main)."""
