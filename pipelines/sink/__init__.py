"""Sinks: staging shards and quarantine, the manifest, and the atomic publish."""
