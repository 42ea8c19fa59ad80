"""The network compiler: maps a network's layers onto the cluster's arrays and accelerators."""
