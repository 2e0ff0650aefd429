"""The composition root: the Prefect flow, the command line and settings. It wires extract, transform
and load together, and nothing imports it."""
