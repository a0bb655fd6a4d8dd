"""Pure OCI data: digests, media types, descriptors, manifests, references, cache specs. No I/O."""
