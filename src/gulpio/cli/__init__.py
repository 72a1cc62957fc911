"""Command-line programs; each module's docstring is its usage text."""
