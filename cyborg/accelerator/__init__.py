"""Accelerator hardware: the driver plugins and the data they report."""
