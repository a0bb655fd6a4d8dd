"""The GitHub Actions cache (``type=gha``): REST inventory and deletes anywhere, contents through
the runtime cache service inside a workflow run."""
