"""The three Switchboard services and the command-line entry point."""
