"""Readers: from upload files to routed partitions, with malformed records quarantined."""
