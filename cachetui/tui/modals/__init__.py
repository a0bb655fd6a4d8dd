"""Part of the cachetui terminal UI."""
