"""Pure BuildKit knowledge: cache config v0, classification, chains, analysis, diff. No I/O."""
