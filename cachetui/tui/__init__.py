"""The terminal UI. The only package that imports Textual; build it with :func:`app.make_app`."""
