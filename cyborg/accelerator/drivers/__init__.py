"""Driver plugins, loaded by name from the cyborg.accelerator.driver namespace."""
