"""Quality filters (Gopher, C4, FineWeb) as partition steps: scores plus decisions."""
