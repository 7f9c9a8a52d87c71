"""Console scripts: cyborg-api, -conductor, -agent, -dbsync, -status, -all-in-one."""
