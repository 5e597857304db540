"""Every write of the segments domain."""
