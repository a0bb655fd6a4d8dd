"""Deletes through hosted registries' own APIs, for the registries that refuse the distribution
DELETE: GHCR (GitHub Packages API) and Docker Hub (Hub's API)."""
